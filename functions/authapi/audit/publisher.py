"""Publishing the audit trail on EventBridge, from the event outbox (docs/audit-events.md).

Every audit row comes with an event_outbox row, written in the same statement (authapi.audit
.record). The maintenance run takes the oldest outbox rows (`FOR UPDATE SKIP LOCKED`: a
concurrent run takes others), joins their audit rows, puts them on the bus ten per PutEvents
call, then, in the same transaction, deletes the rows EventBridge accepted and counts an
attempt on each it refused for a reason of the entry's (a partial failure names the entry). A
refused row is tried again by the next runs, after the rows that never failed: one poison row
never holds up the others.

Refusals are of two kinds (EventBridge's PutEventsResultEntry names them): `ThrottlingException`
and `InternalFailure` are EventBridge's own state, retried by every run for as long as the
retention keeps the row, without counting an attempt; any other code is the entry's (or the
bus policy's) and counts one. At `MAX_REFUSED_ATTEMPTS` the row is abandoned: deleted from the
outbox, with an ERROR log line and the `AuditEventsAbandoned` metric. Its audit row stays in
audit_events: the trail loses nothing, only the bus never sees that event.

At least once: a run that stops between PutEvents and its commit leaves the rows to be sent
again, so a consumer deduplicates on the event's own `id` (EventBridge's envelope id differs
on each put). Ordering is not guaranteed either (EventBridge does not keep it).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, Protocol

from sqlalchemy import RowMapping, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.models import AuditEvent, EventOutbox
from authapi.observability import metrics
from authapi.tenant_scope import every_tenant

ENTRIES_PER_CALL = 10  # what PutEvents takes at most
PUBLISH_BATCH_SIZE = 100  # ten PutEvents calls per transaction
# A batch's calls run while its transaction holds the rows; the maintenance role's
# idle_in_transaction_session_timeout (10 s) would end a slow batch's session before its DELETE,
# and every run would then send the same events again. So a batch takes no further call after
# this long (a call in flight may take its own timeout more); the rest wait for the next batch.
BATCH_BUDGET_SECONDS = 4.0
# EventBridge's retryable per-entry ErrorCodes (PutEventsResultEntry): its own throttle or fault,
# nothing wrong with the entry, so they never count towards abandoning it.
RETRYABLE_ERROR_CODES = frozenset({"ThrottlingException", "InternalFailure"})
# Every other code (InvalidArgument, MalformedDetail, AccessDeniedException,
# NotAuthorizedForSourceException...) refuses the entry itself: EventBridge calls them not
# retryable, and the same entry sent again gets the same answer unless an operator changes the
# bus policy. Eight attempts (one per run, two when a backlog fills more than one batch: about
# eight minutes at the default schedule, two hours at rate(15 minutes)) leave the
# audit-events-stuck alarm (3 refusals in 15 minutes) time to fire first, while a poison row
# stops costing a PutEvents slot and an alarm every run; past them the row is abandoned, and
# docs/runbooks/audit-events-abandoned.md re-queues it from its audit row.
MAX_REFUSED_ATTEMPTS = 8

_EVENT = AuditEvent.__table__.c
_OUTBOX = EventOutbox.__table__.c
_ATTEMPTS = "outbox_attempts"  # the row's refusals so far, selected beside the event's columns

logger = logging.getLogger(__name__)


class EventSink(Protocol):
    """Where events go: EventBridge (authapi.audit.eventbridge), or a test's stand-in."""

    def put_events(self, entries: Sequence[Mapping[str, Any]]) -> list[str | None]:
        """At most 10 entries; per entry, None where it was accepted, else its error code."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Abandoned:
    """An event the publisher stopped sending: what the operator's log line names, no more."""

    event_id: uuid.UUID
    error_code: str
    attempts: int


@dataclass
class PublishedBatch:
    published: int = 0
    failed: int = 0  # entries EventBridge refused: they stay (a retryable code) or count one
    # of those, refused for the MAX_REFUSED_ATTEMPTS-th time: deleted (report_abandoned logs them)
    abandoned: list[Abandoned] = field(default_factory=list)
    unreachable: bool = False  # a call failed as a whole: its rows and the rest wait, untouched
    found: int = 0  # outbox rows the batch took
    out_of_time: bool = False  # stopped at BATCH_BUDGET_SECONDS: rows it took are left unsent
    # what went wrong: per-entry ErrorCodes, the failed call's error code (never a message)
    errors: set[str] = field(default_factory=set)


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def public_event(row: Mapping[str, Any] | RowMapping) -> dict[str, Any]:
    """The event as customers see it (EventBridge's `detail`): the same keys for every type.

    Only what the audit row holds, which never is a secret or an email (authapi.audit.record).
    """
    return {
        "id": str(row["id"]),
        "type": row["type"],
        "occurred_at": row["occurred_at"].astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "user_id": _text(row["user_id"]),
        "actor": {"kind": row["actor_kind"], "id": _text(row["actor_id"])},
        "session_id": _text(row["session_id"]),
        "client_id": row["client_id"],
        "ip": row["ip"],
        "user_agent": row["user_agent"],
        "request_id": row["request_id"],
        "details": dict(row["details"] or {}),
    }


def put_events_entry(row: Mapping[str, Any] | RowMapping, *, source: str) -> dict[str, Any]:
    """One PutEvents entry: `detail-type` is the event's type (what rules match on)."""
    return {
        "Source": source,
        "DetailType": row["type"],
        "Detail": json.dumps(public_event(row), separators=(",", ":")),
        "Time": row["occurred_at"].timestamp(),
    }


async def _oldest_unpublished(db: AsyncSession, limit: int) -> Sequence[RowMapping]:
    # every tenant's events, each published with its tenant_id (a column of the row)
    statement = every_tenant(
        select(*_EVENT, _OUTBOX.attempts.label(_ATTEMPTS))
        .join(EventOutbox, _OUTBOX.event_id == _EVENT.id)
        # rows that failed before go after those that never did; oldest first within each
        .order_by(_OUTBOX.attempts, _OUTBOX.created_at, _OUTBOX.event_id)
        .limit(limit)
        .with_for_update(of=EventOutbox, skip_locked=True)
    )
    return (await db.execute(statement)).mappings().all()


async def publish_batch(
    db: AsyncSession, sink: EventSink, *, source: str, limit: int = PUBLISH_BATCH_SIZE
) -> PublishedBatch:
    """Put up to `limit` of the oldest unpublished events on the bus; three statements at most
    (the SELECT, a DELETE of those taken or abandoned, an UPDATE of those refused). The caller
    commits."""
    rows = await _oldest_unpublished(db, limit)
    batch = PublishedBatch(found=len(rows))
    done: list[uuid.UUID] = []  # accepted, or abandoned: out of the outbox
    refused: list[uuid.UUID] = []  # refused for a reason of the entry's: one more attempt
    started = time.monotonic()
    for start in range(0, len(rows), ENTRIES_PER_CALL):
        if time.monotonic() - started > BATCH_BUDGET_SECONDS:
            batch.out_of_time = True  # the rest stay in the outbox, for the next batch
            break
        chunk = rows[start : start + ENTRIES_PER_CALL]
        try:
            results = sink.put_events([put_events_entry(row, source=source) for row in chunk])
        except Exception as error:  # whatever the client raised: this and the later chunks wait
            batch.unreachable = True
            batch.errors.add(str(getattr(error, "code", None) or type(error).__name__))
            break
        for row, code in zip(chunk, results, strict=True):
            if not code:
                batch.published += 1
                done.append(row["id"])
                continue
            batch.failed += 1
            batch.errors.add(code)
            if code in RETRYABLE_ERROR_CODES:
                continue  # left as it is: tried again by the next run, forever
            attempts = row[_ATTEMPTS] + 1
            if attempts < MAX_REFUSED_ATTEMPTS:
                refused.append(row["id"])
                continue
            batch.abandoned.append(Abandoned(row["id"], code, attempts))
            done.append(row["id"])
    if done:
        await db.execute(every_tenant(delete(EventOutbox).where(_OUTBOX.event_id.in_(done))))
    if refused:
        await db.execute(
            every_tenant(
                update(EventOutbox)
                .where(_OUTBOX.event_id.in_(refused))
                .values(attempts=_OUTBOX.attempts + 1)
            )
        )
    return batch


def report_abandoned(batch: PublishedBatch) -> None:
    """One ERROR line and one `AuditEventsAbandoned` per event the batch gave up on; called
    once its transaction has committed, so a batch rolled back reports nothing it did not do."""
    for event in batch.abandoned:
        # the id, the code and the count only: the event's details are the audit row's
        logger.error(
            "audit event abandoned: the event bus refused it too often",
            extra={
                "event_id": str(event.event_id),
                "error_code": event.error_code,
                "attempts": event.attempts,
            },
        )
        metrics.count(metrics.AUDIT_EVENTS_ABANDONED)
