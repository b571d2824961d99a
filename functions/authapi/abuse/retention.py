"""Deleting the abuse rows nobody reads any more, each table on its own horizon, in batches.

Called by the scheduled maintenance run, never from a request: a refused request must not be able
to reset anybody's count. Each function is one statement that deletes at most `limit` rows and
returns how many it deleted; rows a request holds locked are skipped, for the next run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.db.batches import delete_batch
from authapi.models import LoginThrottle, RateLimitBucket


async def purge_rate_limit_buckets(db: AsyncSession, *, window_floor: datetime, limit: int) -> int:
    """Buckets whose window started before `window_floor` (a whole window ago): their count no
    longer limits anything, and the next hit would start the count again anyway."""
    stale = (
        select(RateLimitBucket.key)
        .where(RateLimitBucket.window_start < window_floor)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return await delete_batch(db, RateLimitBucket.key, stale)


async def purge_login_throttles(
    db: AsyncSession, *, window_floor: datetime, now: datetime, limit: int
) -> int:
    """Throttles whose failure window started before `window_floor` and that lock nothing now: the
    next failure would count from one again, so deleting them changes no answer."""
    stale = (
        select(LoginThrottle.account_key)
        .where(
            LoginThrottle.window_started_at < window_floor,
            or_(LoginThrottle.locked_until.is_(None), LoginThrottle.locked_until <= now),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return await delete_batch(db, LoginThrottle.account_key, stale)
