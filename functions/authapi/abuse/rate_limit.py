"""Per-IP rate limits, as a route dependency: `dependencies=[RateLimit("login")]`.

The hit is counted in its own autocommitted statement before the route's unit of work starts,
so it stands even when the route then fails (a wrong password, a taken email): failures are
exactly what an attacker produces. A fixed window keeps it to one upsert per request.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from typing import Literal

from fastapi import Request, params

from authapi.abuse import repository
from authapi.abuse.client_ip import client_ip
from authapi.exceptions import TooManyAttemptsError
from authapi.observability import metrics
from authapi.resources import get_resources

Action = Literal["login", "register", "refresh"]
# expired buckets are swept by an occasional request rather than a scheduled job
PURGE_PROBABILITY = 0.002


def _window_start(now: datetime, seconds: int) -> datetime:
    epoch = now.timestamp()
    return datetime.fromtimestamp(epoch - epoch % seconds, tz=UTC)


def RateLimit(action: Action) -> params.Depends:  # a marker in route declarations, hence the name
    async def check(request: Request) -> None:
        resources = get_resources(request)
        settings = resources.settings
        limit: int = getattr(settings, f"rate_limit_{action}")
        now = datetime.now(UTC)
        window = settings.rate_limit_window_seconds
        window_start = _window_start(now, window)
        async with resources.database.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            hits = await repository.count_hit(
                autocommit, key=f"{action}:{client_ip(request.scope)}", window_start=window_start
            )
            if random.random() < PURGE_PROBABILITY:  # noqa: S311 - scheduling, not security
                await repository.purge_expired(autocommit, before=now - timedelta(seconds=window))
        if hits > limit:
            metrics.count(metrics.TOO_MANY_ATTEMPTS)
            retry_after = (window_start + timedelta(seconds=window) - now).total_seconds()
            raise TooManyAttemptsError(retry_after_seconds=math.ceil(retry_after))

    return params.Depends(check)
