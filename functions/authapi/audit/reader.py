"""Reading the audit trail: keyset-paginated listings, newest first (GET /api/v1/auth/me/events,
GET /api/v1/admin/events). One statement per page; on the schema before migration 0012 (a deploy
under way) the table is not there yet and a listing is an empty page, not a 500.

A cursor is opaque to clients: the position (time, id) of the last row of the page it follows,
base64url-encoded. It names no filter; a client sends the same filters with it.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select, tuple_
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.audit.events import ActorKind
from authapi.audit.record import AuditEntry, audit_writes, names_a_missing_audit_table
from authapi.exceptions import InvalidCursorError
from authapi.models import AuditEvent

MAX_PAGE = 100


@dataclass(frozen=True)
class Position:
    """Where a keyset page ends: the last row's sort key."""

    at: datetime
    id: uuid.UUID


def encode_cursor(position: Position) -> str:
    raw = json.dumps({"t": position.at.isoformat(), "i": str(position.id)}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> Position:
    """The position a cursor of `encode_cursor` names, or InvalidCursorError (400)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        fields = json.loads(raw)
        at = datetime.fromisoformat(fields["t"])
        if at.tzinfo is None:
            raise ValueError("naive time")
        return Position(at=at, id=uuid.UUID(fields["i"]))
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise InvalidCursorError() from None


@dataclass(frozen=True)
class EventFilter:
    user_id: uuid.UUID | None = None
    types: Sequence[str] = ()
    since: datetime | None = None  # occurred at or after
    until: datetime | None = None  # occurred before
    actor_kind: ActorKind | None = None
    actor_id: uuid.UUID | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.user_id is not None:
            conditions.append(AuditEvent.user_id == self.user_id)
        if self.types:
            conditions.append(AuditEvent.type.in_(list(self.types)))
        if self.since is not None:
            conditions.append(AuditEvent.occurred_at >= self.since)
        if self.until is not None:
            conditions.append(AuditEvent.occurred_at < self.until)
        if self.actor_kind is not None:
            conditions.append(AuditEvent.actor_kind == self.actor_kind.value)
        if self.actor_id is not None:
            conditions.append(AuditEvent.actor_id == self.actor_id)
        return conditions


@dataclass(frozen=True)
class EventRow:
    id: uuid.UUID
    type: str
    occurred_at: datetime
    user_id: uuid.UUID | None
    actor_kind: str
    actor_id: uuid.UUID | None
    session_id: uuid.UUID | None
    client_id: str | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class EventPage:
    events: list[EventRow]
    next_cursor: str | None  # None: this is the last page


_COLUMNS = (
    AuditEvent.id,
    AuditEvent.type,
    AuditEvent.occurred_at,
    AuditEvent.user_id,
    AuditEvent.actor_kind,
    AuditEvent.actor_id,
    AuditEvent.session_id,
    AuditEvent.client_id,
    AuditEvent.ip,
    AuditEvent.user_agent,
    AuditEvent.request_id,
    AuditEvent.details,
)


async def list_events(
    db: AsyncSession,
    *,
    filters: EventFilter,
    cursor: str | None = None,
    limit: int = 50,
    record: AuditEntry | None = None,
) -> EventPage:
    """One page of the events `filters` select, newest first, after `cursor`; one round trip
    (a row more than the page, to know whether another follows). `record`: an event of this
    read (an admin's), written by the same statement (not seen by it: a CTE's rows are not)."""
    limit = max(1, min(limit, MAX_PAGE))
    conditions = filters.conditions()
    if cursor is not None:
        after = decode_cursor(cursor)
        conditions.append(
            tuple_(AuditEvent.occurred_at, AuditEvent.id) < tuple_(after.at, after.id)
        )
    statement = (
        select(*_COLUMNS)
        .where(*conditions)
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(limit + 1)
    )
    if record is not None:
        audit, outbox = audit_writes(record)
        statement = statement.add_cte(audit.cte("audit"), outbox.cte("audit_outbox"))
    try:
        rows = (await db.execute(statement)).all()
    except ProgrammingError as error:
        if not names_a_missing_audit_table(error):
            raise
        return EventPage(events=[], next_cursor=None)  # the schema before the audit trail
    events = [EventRow(**row._asdict()) for row in rows[:limit]]
    more = len(rows) > limit
    last = events[-1] if events else None
    next_cursor = (
        encode_cursor(Position(at=last.occurred_at, id=last.id)) if more and last else None
    )
    return EventPage(events=events, next_cursor=next_cursor)
