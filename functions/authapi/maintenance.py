"""The scheduled maintenance run: every table loses what nobody reads any more, on its own horizon.

Run by the MaintenanceFunction every 15 minutes in AWS, by `make maintenance` and every minute by
the local cloud; never from a request, so no request (a refused one least of all) can delete
what limits it. The horizons, from one `now` read once from the clock:

- rate-limit buckets whose window ended (`rate_limit_window_seconds` ago);
- login throttles whose failure window ended (`login_failure_window_seconds`) and that lock
  nothing now;
- sessions expired or revoked more than `retention_days` ago, their refresh tokens first;
- device tokens that expired (a sign-in no longer accepts them).

Each statement deletes at most `BATCH_SIZE` rows and commits on its own, so no lock is held for
long and what was deleted stays deleted if the run stops. The tables take turns, one batch each,
until every one is done or the time left could not fit another batch: a backlog is shared out
fairly and finished by the next runs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from authapi.abuse import retention as abuse_retention
from authapi.auth import retention as auth_retention
from authapi.clock import Clock
from authapi.config import Settings
from authapi.db.engine import Database
from authapi.db.session import unit_of_work

BATCH_SIZE = 1_000

DeleteBatch = Callable[[AsyncSession, int], Awaitable[int]]


@dataclass(frozen=True)
class Purge:
    """One table's batch delete; `after`: a purge that must be done before this one can be."""

    table: str
    delete_batch: DeleteBatch
    after: str | None = None


@dataclass
class MaintenanceReport:
    """What one run deleted, per table, and whether it got through everything that was due."""

    now: datetime
    deleted: dict[str, int] = field(default_factory=dict)
    finished: bool = False


def purges(settings: Settings, now: datetime) -> list[Purge]:
    """One batch delete per table, each on its own horizon."""
    rate_limit_floor = now - timedelta(seconds=settings.rate_limit_window_seconds)
    failure_floor = now - timedelta(seconds=settings.login_failure_window_seconds)
    retained_after = now - timedelta(days=settings.retention_days)
    return [
        Purge(
            "rate_limit_buckets",
            lambda db, limit: abuse_retention.purge_rate_limit_buckets(
                db, window_floor=rate_limit_floor, limit=limit
            ),
        ),
        Purge(
            "login_throttles",
            lambda db, limit: abuse_retention.purge_login_throttles(
                db, window_floor=failure_floor, now=now, limit=limit
            ),
        ),
        Purge(
            "refresh_tokens",
            lambda db, limit: auth_retention.purge_refresh_tokens_of_old_sessions(
                db, over_before=retained_after, limit=limit
            ),
        ),
        # a session goes once its tokens have: deleting it never cascades to more rows
        Purge(
            "auth_sessions",
            lambda db, limit: auth_retention.purge_old_sessions(
                db, over_before=retained_after, limit=limit
            ),
            after="refresh_tokens",
        ),
        Purge(
            "device_tokens",
            lambda db, limit: auth_retention.purge_expired_device_tokens(db, now=now, limit=limit),
        ),
    ]


def batch_reserve_seconds(settings: Settings) -> float:
    """The worst case of one batch: a new connection, then the statement (and its commit)."""
    return settings.db_connect_timeout_seconds + 2 * settings.db_command_timeout_seconds


async def run_maintenance(
    database: Database,
    settings: Settings,
    *,
    clock: Clock,
    seconds_left: Callable[[], float],
    batch_size: int = BATCH_SIZE,
) -> MaintenanceReport:
    """Delete what is due, batch by batch, while `seconds_left()` still fits a batch.

    Args:
        seconds_left: the time the caller still has (in Lambda, what the context says remains).
        batch_size: the most rows one statement deletes.
    """
    report = MaintenanceReport(now=clock.now())
    pending = {purge.table: purge for purge in purges(settings, report.now)}
    report.deleted = dict.fromkeys(pending, 0)
    reserve = batch_reserve_seconds(settings)
    while pending:
        for purge in list(pending.values()):
            if seconds_left() < reserve:
                return report
            async with unit_of_work(database) as db:
                deleted = await purge.delete_batch(db, batch_size)
            report.deleted[purge.table] += deleted
            if deleted < batch_size and purge.after not in pending:
                del pending[purge.table]
    report.finished = True
    return report
