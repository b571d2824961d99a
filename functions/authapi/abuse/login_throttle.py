"""Per-account brute-force protection for login: a growing delay after repeated failures.

After `login_max_failures` failures within `login_failure_window_seconds`, the account refuses
attempts for `login_lockout_base_seconds`, doubling with every further failure up to
`login_lockout_max_seconds`. Locks always expire: a stranger can delay the owner, never lock
them out for good, and a successful login clears the slate. The key is the email's hash, not the
user id, so unknown emails are throttled identically and a 429 reveals nothing.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

from sqlalchemy import ScalarSelect
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.abuse import repository
from authapi.config import Settings
from authapi.exceptions import TooManyAttemptsError
from authapi.observability import metrics


def account_key(email: str) -> bytes:
    return hashlib.sha256(email.encode("utf-8")).digest()


def state_columns(key: bytes) -> tuple[ScalarSelect[int], ScalarSelect[datetime | None]]:
    """Failures and lock of the account, as columns the login query reads with the user."""
    return repository.login_throttle_columns(key)


def refuse_if_locked(*, locked_until: datetime | None, now: datetime) -> None:
    if locked_until is not None and locked_until > now:
        metrics.count(metrics.TOO_MANY_ATTEMPTS)
        raise TooManyAttemptsError(
            retry_after_seconds=math.ceil((locked_until - now).total_seconds())
        )


def lockout_seconds(settings: Settings, failures: int) -> int:
    beyond = failures - settings.login_max_failures
    if beyond < 0:
        return 0
    doubled: int = settings.login_lockout_base_seconds * 2 ** min(beyond, 30)
    return min(
        settings.login_lockout_max_seconds,
        doubled,
    )


async def record_failure(
    db: AsyncSession, settings: Settings, *, key: bytes, now: datetime
) -> None:
    window_floor = now - timedelta(seconds=settings.login_failure_window_seconds)
    failures = await repository.count_login_failure(
        db, account_key=key, now=now, window_floor=window_floor
    )
    seconds = lockout_seconds(settings, failures)
    if seconds:
        await repository.lock_account(db, account_key=key, until=now + timedelta(seconds=seconds))


async def clear_failures(db: AsyncSession, *, key: bytes) -> None:
    """A correct password: the account starts again from no failures."""
    await repository.clear_login_failures(db, account_key=key)
