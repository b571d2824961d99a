"""Counters for rate limits and login throttles, each kept in one statement where it can be."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ScalarSelect, case, delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.models import LoginThrottle, RateLimitBucket


async def count_hit(db: AsyncSession, *, key: str, window_start: datetime) -> int:
    """Add one hit to `key` in the window starting at `window_start`; return the window's hits."""
    new_bucket = insert(RateLimitBucket).values(key=key, window_start=window_start, hits=1)
    same_window = RateLimitBucket.window_start == new_bucket.excluded.window_start
    statement = new_bucket.on_conflict_do_update(
        index_elements=[RateLimitBucket.key],
        set_={
            # a new window starts the count again; row locking makes concurrent hits add up
            "hits": case((same_window, RateLimitBucket.hits + 1), else_=1),
            "window_start": new_bucket.excluded.window_start,
        },
    ).returning(RateLimitBucket.hits)
    return int((await db.execute(statement)).scalar_one())


def login_throttle_columns(
    account_key: bytes,
) -> tuple[ScalarSelect[int], ScalarSelect[datetime | None]]:
    """The account's failure count and lock as scalar subqueries (NULL when it has no row), for
    another domain's query to carry along: login reads them with the user in one round trip."""
    row = LoginThrottle.account_key == account_key
    return (
        select(LoginThrottle.failures).where(row).scalar_subquery(),
        select(LoginThrottle.locked_until).where(row).scalar_subquery(),
    )


async def count_login_failure(
    db: AsyncSession, *, account_key: bytes, now: datetime, window_floor: datetime
) -> int:
    """One more failure for the account; failures older than the window are forgotten."""
    first_failure = insert(LoginThrottle).values(
        account_key=account_key, failures=1, window_started_at=now, locked_until=None
    )
    in_window = LoginThrottle.window_started_at > window_floor
    statement = first_failure.on_conflict_do_update(
        index_elements=[LoginThrottle.account_key],
        set_={
            "failures": case((in_window, LoginThrottle.failures + 1), else_=1),
            "window_started_at": case((in_window, LoginThrottle.window_started_at), else_=now),
        },
    ).returning(LoginThrottle.failures)
    return int((await db.execute(statement)).scalar_one())


async def lock_account(db: AsyncSession, *, account_key: bytes, until: datetime) -> None:
    await db.execute(
        update(LoginThrottle)
        .where(LoginThrottle.account_key == account_key)
        .values(locked_until=until)
    )


async def clear_login_failures(db: AsyncSession, *, account_key: bytes) -> None:
    await db.execute(delete(LoginThrottle).where(LoginThrottle.account_key == account_key))
