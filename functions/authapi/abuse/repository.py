"""Counters for rate limits and login throttles, each kept in one statement where it can be.

The login throttle's statements are built here and run inside the login's own statements (as
CTEs), so counting an attempt costs no round trip of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import (
    CTE,
    ColumnElement,
    DateTime,
    Delete,
    Executable,
    LargeBinary,
    ScalarSelect,
    String,
    Table,
    Update,
    bindparam,
    case,
    delete,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.models import LoginThrottle, RateLimitBucket

_TIMESTAMPTZ = DateTime(timezone=True)


def _count_hit_statement() -> Executable:
    table = cast(Table, RateLimitBucket.__table__)  # typed as a FromClause on the mapping
    new_bucket = insert(table).values(
        key=bindparam("bucket_key", type_=String()),
        window_start=bindparam("bucket_window_start", type_=_TIMESTAMPTZ),
        hits=1,
    )
    same_window = table.c.window_start == new_bucket.excluded.window_start
    return new_bucket.on_conflict_do_update(
        index_elements=[table.c.key],
        set_={
            # a new window starts the count again; row locking makes concurrent hits add up
            "hits": case((same_window, table.c.hits + 1), else_=1),
            "window_start": new_bucket.excluded.window_start,
        },
    ).returning(table.c.hits)


# Built once with bind parameters, on the table rather than the entity: every register, login
# and refresh counts a hit, and building the upsert per request (then running it through the
# ORM's bulk-DML path) cost more than the statement's own round trips. Parameter names are not
# column names, which an INSERT would take as further values.
_COUNT_HIT = _count_hit_statement()


async def count_hit(db: AsyncSession, *, key: str, window_start: datetime) -> int:
    """Add one hit to `key` in the window starting at `window_start`; return the window's hits."""
    result = await db.execute(_COUNT_HIT, {"bucket_key": key, "bucket_window_start": window_start})
    return int(result.scalar_one())


@dataclass(frozen=True)
class AttemptPolicy:
    """When a key's attempts lock it, and for how long (see login_throttle for the two in use)."""

    max_failures: int
    window_seconds: int
    lock_base_seconds: int
    lock_max_seconds: int
    doubles: bool  # each further attempt doubles the lock, up to the maximum

    def lock_seconds(self, failures: ColumnElement[int]) -> ColumnElement[float]:
        if not self.doubles:
            return literal(float(self.lock_base_seconds))
        beyond = func.least(failures - self.max_failures, 30)
        return func.least(
            float(self.lock_max_seconds), self.lock_base_seconds * func.power(2, beyond)
        )


def count_attempt(
    *, key: bytes, policy: AttemptPolicy, now: datetime, when: ColumnElement[bool], name: str
) -> CTE:
    """Count one login attempt for `key`, as a CTE returning a row only when the key let it in.

    A key whose lock has not expired is left as it is and returns nothing. Otherwise its count
    goes up (from 1 in a new window) and, once it reaches the policy's maximum, the lock is set
    right away, before the password is even checked: of N concurrent attempts, the row lock of
    this upsert lets exactly `max_failures` through. `when` false: nothing is counted.
    """
    stamp = literal(now, _TIMESTAMPTZ)
    in_window = LoginThrottle.window_started_at > literal(
        now - timedelta(seconds=policy.window_seconds), _TIMESTAMPTZ
    )
    failures: ColumnElement[int] = case((in_window, LoginThrottle.failures + 1), else_=1)
    first_lock = (
        now + timedelta(seconds=policy.lock_base_seconds) if policy.max_failures <= 1 else None
    )
    statement = (
        insert(LoginThrottle)
        .from_select(
            ["account_key", "failures", "window_started_at", "locked_until"],
            select(
                literal(key, LargeBinary()),
                literal(1),
                stamp,
                literal(first_lock, _TIMESTAMPTZ),
            ).where(when),
        )
        .on_conflict_do_update(
            index_elements=[LoginThrottle.account_key],
            set_={
                "failures": failures,
                "window_started_at": case(
                    (in_window, LoginThrottle.window_started_at), else_=stamp
                ),
                "locked_until": case(
                    (
                        failures >= policy.max_failures,
                        stamp + func.make_interval(0, 0, 0, 0, 0, 0, policy.lock_seconds(failures)),
                    ),
                    else_=None,
                ),
            },
            where=LoginThrottle.locked_until.is_(None) | (LoginThrottle.locked_until <= stamp),
        )
        .returning(LoginThrottle.failures)
    )
    return statement.cte(name)


def locked_until(key: bytes) -> ScalarSelect[datetime | None]:
    """The key's lock as the statement found it, for a refusal's Retry-After."""
    return (
        select(LoginThrottle.locked_until).where(LoginThrottle.account_key == key).scalar_subquery()
    )


def reset(key: bytes) -> Delete:
    """Forget a key (a correct password from it): its count and its lock."""
    return delete(LoginThrottle).where(LoginThrottle.account_key == key)


def give_back_attempt(key: bytes, *, policy: AttemptPolicy, now: datetime) -> Update:
    """Take one attempt off a key's count, only the caller's own: what other requests added
    stays. A lock its attempt set goes with it once the count is below the maximum again."""
    remaining = LoginThrottle.failures - 1
    return (
        update(LoginThrottle)
        .where(
            LoginThrottle.account_key == key,
            LoginThrottle.failures > 0,
            LoginThrottle.window_started_at
            > literal(now - timedelta(seconds=policy.window_seconds), _TIMESTAMPTZ),
        )
        .values(
            failures=remaining,
            locked_until=case(
                (remaining >= policy.max_failures, LoginThrottle.locked_until), else_=None
            ),
        )
    )
