"""A bounded wait for row locks, without a session setting: NOWAIT, retried on a fixed schedule.

PostgreSQL's own `lock_timeout` is a setting, and setting it per statement takes `SET` or
`set_config()`, either of which pins an RDS Proxy session for good (and `SET LOCAL` would need
BEGIN/COMMIT around the statement: two more round trips). So a statement that must not wait
long locks its rows with NOWAIT, fails at once with `lock_not_available` when another holds
them, and is tried again after short pauses that add up to at most the allowed wait. No
transaction is open between the tries: the request holds nothing while it pauses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import DBAPIError

LOCK_NOT_AVAILABLE = "55P03"
FIRST_PAUSE_MS = 5  # then doubling: most holders of a row finish their statement in a few ms

T = TypeVar("T")


class LockWaitExceeded(Exception):
    """The rows stayed locked by another statement for longer than the allowed wait."""


def pauses_ms(total_ms: int) -> list[int]:
    """The pauses between tries: doubling from FIRST_PAUSE_MS, adding up to `total_ms`."""
    pauses: list[int] = []
    pause, left = FIRST_PAUSE_MS, total_ms
    while left > 0:
        pauses.append(min(pause, left))
        left -= pauses[-1]
        pause *= 2
    return pauses


def lock_not_available(error: DBAPIError) -> bool:
    return getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE


async def with_bounded_lock_wait(attempt: Callable[[], Awaitable[T]], *, wait_ms: int) -> T:
    """`attempt()` (a statement locking its rows with NOWAIT), tried again while its rows are
    locked, for at most `wait_ms` of pauses in all; then LockWaitExceeded."""
    for pause in (*pauses_ms(wait_ms), None):
        try:
            return await attempt()
        except DBAPIError as error:
            if not lock_not_available(error):
                raise
            if pause is None:
                raise LockWaitExceeded() from None
        await asyncio.sleep(pause / 1000)
    raise AssertionError("unreachable: the last try returns or raises")
