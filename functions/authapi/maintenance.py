"""The scheduled maintenance run: every table loses what nobody reads any more, on its own horizon.

Run by the MaintenanceFunction every minute in AWS (its MaintenanceSchedule), by `make
maintenance` and every minute by the local cloud; never from a request, so no request (a refused
one least of all) can delete what limits it. The horizons, from one `now` read once from the clock:

- rate-limit buckets whose window ended (`rate_limit_window_seconds` ago);
- login throttles whose failure window ended (`login_failure_window_seconds`) and that lock
  nothing now;
- sessions expired or revoked more than `retention_days` ago, their refresh tokens first;
- device tokens that expired (a sign-in no longer accepts them);
- outbox rows written more than `mail_retention_days` ago, whatever their status;
- MFA login challenges once spent or expired (`mfa_challenge_seconds` after the password step);
- audit rows recorded more than `audit_retention_days` ago (only the maintenance role may), and
  event outbox rows as old: their events can no longer be published. With no event bus
  configured (publishing off) the outbox rows wait until then, so a bus configured later (or
  `make run` after `make maintenance`) still gets the events within the retention.

Before the purges, mail that was never handed over (the queue was down after the request that
wrote it, or its queue message went to the DLQ) is handed to the queue again: pending rows
nobody sent or re-queued for `mail_requeue_after_seconds` (authapi.outbox.repository); then
audit events waiting in the event outbox are put on the event bus (authapi.audit.publisher).

Each statement deletes at most `BATCH_SIZE` rows and commits on its own, so no lock is held for
long and what was deleted stays deleted if the run stops. The tables take turns, one batch each,
until every one is done or the time left could not fit another batch: a backlog is shared out
fairly and finished by the next runs.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import InterfaceError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.abuse import retention as abuse_retention
from authapi.audit import retention as audit_retention
from authapi.audit.publisher import (
    PUBLISH_BATCH_SIZE,
    EventSink,
    publish_batch,
    report_abandoned,
)
from authapi.audit.record import names_a_missing_audit_table
from authapi.auth import retention as auth_retention
from authapi.clock import Clock
from authapi.config import Settings
from authapi.db.engine import Database
from authapi.db.session import unit_of_work
from authapi.mfa import repository as mfa_repository
from authapi.observability import metrics
from authapi.outbox import repository as outbox_repository
from authapi.outbox.notify import MailQueue, queue_message
from authapi.users import account_tokens

BATCH_SIZE = 1_000
REQUEUE_BATCH_SIZE = 100  # ten SendMessageBatch calls

DeleteBatch = Callable[[AsyncSession, int], Awaitable[int]]

logger = logging.getLogger(__name__)


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
    requeued: int = 0
    requeue_failed: bool = False  # the queue refused: the rows wait for the next run
    events_published: int = 0
    events_failed: int = 0  # entries the bus refused: they wait, their attempts counted
    events_abandoned: int = 0  # of those, refused too often: out of the outbox, audit row kept
    event_bus_unreachable: bool = False  # a PutEvents call failed: the rest wait for the next run
    event_errors: set[str] = field(default_factory=set)  # the bus's error codes, for the log


def purges(settings: Settings, now: datetime) -> list[Purge]:
    """One batch delete per table, each on its own horizon."""
    audit_floor = now - timedelta(days=settings.audit_retention_days)
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
        Purge(
            "account_tokens",
            lambda db, limit: account_tokens.purge_dead_account_tokens(db, before=now, limit=limit),
        ),
        Purge(
            "mfa_challenges",
            lambda db, limit: mfa_repository.purge_dead_challenges(db, now=now, limit=limit),
        ),
        Purge(
            "mail_outbox",
            lambda db, limit: outbox_repository.purge_old_outbox_rows(
                db,
                created_before=now - timedelta(days=settings.mail_retention_days),
                now=now,
                limit=limit,
            ),
        ),
        Purge(
            "audit_events",
            lambda db, limit: audit_retention.purge_old_audit_events(
                db, recorded_before=audit_floor, limit=limit
            ),
        ),
        Purge(
            "event_outbox",
            lambda db, limit: audit_retention.purge_old_outbox_rows(
                db, created_before=audit_floor, limit=limit
            ),
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
    mail_queue: MailQueue | None = None,
    event_sink: EventSink | None = None,
) -> MaintenanceReport:
    """Re-queue mail never handed over, publish audit events, then delete what is due, batch by
    batch, while `seconds_left()` still fits a batch.

    Args:
        seconds_left: the time the caller still has (in Lambda, what the context says remains).
        batch_size: the most rows one statement deletes.
        mail_queue: where mail is handed over; None (no queue configured): no re-queue.
        event_sink: where audit events are published; None (no event bus configured): none
            are, and the event outbox keeps them until the retention takes them.
    """
    report = MaintenanceReport(now=clock.now())
    reserve = batch_reserve_seconds(settings)
    if mail_queue is not None:
        await requeue_mail(database, settings, report, mail_queue, seconds_left, reserve)
    if event_sink is not None:
        try:
            await publish_events(database, settings, report, event_sink, seconds_left, reserve)
        except (OperationalError, InterfaceError):
            # a batch's session ended under it (nothing it sent is lost: its rows stay and go
            # again); the purges below must not stop with it
            logger.exception("audit event publishing failed; the purges go on")
            report.event_bus_unreachable = True
    pending = {purge.table: purge for purge in purges(settings, report.now)}
    report.deleted = dict.fromkeys(pending, 0)
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


class QueueRefused(Exception):
    """The mail queue did not take a re-queued batch (its transaction rolls back)."""


async def requeue_mail(
    database: Database,
    settings: Settings,
    report: MaintenanceReport,
    queue: MailQueue,
    seconds_left: Callable[[], float],
    reserve: float,
) -> None:
    """Hand pending mail to the queue again, a batch per transaction: the rows are stamped,
    sent to the queue, then committed, so a queue that refuses leaves them as they were."""
    handed_over_before = report.now - timedelta(seconds=settings.mail_requeue_after_seconds)
    while seconds_left() >= reserve:
        try:
            async with unit_of_work(database) as db:
                ids = await outbox_repository.mark_for_requeue(
                    db,
                    handed_over_before=handed_over_before,
                    now=report.now,
                    limit=REQUEUE_BATCH_SIZE,
                )
                if ids:
                    try:
                        queue.send([queue_message(outbox_id) for outbox_id in ids])
                    except Exception as error:  # whatever the queue's client raised
                        raise QueueRefused(type(error).__name__) from error
        except QueueRefused:
            report.requeue_failed = True
            return
        report.requeued += len(ids)
        for _ in ids:
            metrics.count(metrics.MAIL_REQUEUED)
        if len(ids) < REQUEUE_BATCH_SIZE:
            return


async def publish_events(
    database: Database,
    settings: Settings,
    report: MaintenanceReport,
    sink: EventSink,
    seconds_left: Callable[[], float],
    reserve: float,
) -> None:
    """Put the event outbox's events on the bus, a batch per transaction, until it is empty,
    the bus is unreachable, or the time left would not fit another batch. Rows the bus refused
    stay (tried again after the others): a batch of only those ends the run's publishing."""
    while seconds_left() >= reserve:
        try:
            async with unit_of_work(database) as db:
                batch = await publish_batch(
                    db, sink, source=settings.event_source, limit=PUBLISH_BATCH_SIZE
                )
        except ProgrammingError as error:
            if names_a_missing_audit_table(error):  # the schema before migration 0012
                return
            raise
        report.events_published += batch.published
        report.events_failed += batch.failed
        report.events_abandoned += len(batch.abandoned)
        report_abandoned(batch)
        report.event_errors |= batch.errors
        for _ in range(batch.published):
            metrics.count(metrics.AUDIT_EVENTS_PUBLISHED)
        for _ in range(batch.failed):
            metrics.count(metrics.AUDIT_EVENTS_REFUSED)
        if batch.unreachable:
            report.event_bus_unreachable = True
            metrics.count(metrics.EVENT_BUS_UNREACHABLE)
            return
        if (batch.found < PUBLISH_BATCH_SIZE and not batch.out_of_time) or batch.published == 0:
            return
