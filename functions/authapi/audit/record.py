"""Writing audit rows: INSERTs a flow folds into the statement whose change they record.

A request's statements autocommit one by one (db/session.py), so an audit row must ride in the
very statement that makes the change (a data-modifying CTE, db/chained_writes.py): a statement
that fails records nothing, one that commits always has its row. With the audit row goes its
event outbox row (authapi.audit.publisher sends it to EventBridge later).

The request's own facts (trusted client address, User-Agent, request id) come from the
request's context (observability/request_context.py), so no flow has to thread them through.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Insert, insert, literal, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.sql.dml import UpdateBase

from authapi.audit.events import ActorKind, EventType
from authapi.db.chained_writes import chained_writes
from authapi.db.expand import names_a_missing_table
from authapi.models import AuditEvent, EventOutbox
from authapi.observability.request_context import (
    current_client_ip,
    current_request_id,
    current_user_agent,
)
from authapi.tenant_scope import tenant_selected, tenant_values

_AUDIT_TABLES = (AuditEvent.__tablename__, EventOutbox.__tablename__)
USER_AGENT_MAX = 256  # the column's width
Result = TypeVar("Result")


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: uuid.UUID | None = None


SERVICE = Actor(ActorKind.SERVICE)


def admin(admin_id: uuid.UUID) -> Actor:
    return Actor(ActorKind.ADMIN, admin_id)


@dataclass(frozen=True)
class AuditEntry:
    """One event to record. `user_id` may be a column of another part of the statement (a CTE
    that finds the account); `actor` defaults to the user themself."""

    type: EventType
    now: datetime
    user_id: uuid.UUID | ColumnElement[uuid.UUID] | None = None
    actor: Actor | None = None
    session_id: uuid.UUID | ColumnElement[uuid.UUID] | None = None
    client_id: str | None = None
    # non-secret facts only (a reason code, a count): never a token, code, password or email;
    # or a jsonb expression of the statement (the ids of the sessions a logout ended)
    details: Mapping[str, Any] | ColumnElement[Any] = field(default_factory=dict)
    id: uuid.UUID = field(default_factory=uuid.uuid4)


def _recordable(value: str | None) -> str | None:
    # what a header may carry that PostgreSQL or a JSON document cannot: controls, surrogates
    if value is None:
        return None
    return "".join(
        "\ufffd" if ord(char) < 0x20 or ord(char) == 0x7F or 0xD800 <= ord(char) <= 0xDFFF else char
        for char in value[:USER_AGENT_MAX]
    )


def _value(value: object, column: ColumnElement[Any]) -> ColumnElement[Any]:
    if isinstance(value, ColumnElement):
        return value
    return literal(value, column.type)


def audit_writes(
    entry: AuditEntry, *, when: ColumnElement[bool] | None = None
) -> tuple[Insert, ...]:
    """The audit row and its outbox row, as INSERT ... SELECTs for `chained_writes(...)`, only
    `when` another part of the statement did its work (a CTE's row exists); both or neither."""
    columns = AuditEvent.__table__.c
    actor = entry.actor
    if actor is None:
        actor_kind, actor_id = ActorKind.USER.value, entry.user_id
    else:
        actor_kind, actor_id = actor.kind.value, actor.id
    values = {
        "id": entry.id,
        "occurred_at": entry.now,
        "type": entry.type.value,
        "user_id": entry.user_id,
        "actor_kind": actor_kind,
        "actor_id": actor_id,
        "session_id": entry.session_id,
        "client_id": entry.client_id,
        "ip": current_client_ip.get(),
        "user_agent": _recordable(current_user_agent()),
        "request_id": current_request_id.get(),
        **tenant_values(),
    }
    selected = [_value(value, columns[name]).label(name) for name, value in values.items()]
    details = entry.details
    if not isinstance(details, ColumnElement):
        details = literal(dict(details), JSONB)
    selected.append(details.label("details"))
    condition = true() if when is None else when
    audit = insert(AuditEvent).from_select([*values, "details"], select(*selected).where(condition))
    outbox_columns = EventOutbox.__table__.c
    tenant_names, tenant_columns = tenant_selected()
    outbox = insert(EventOutbox).from_select(
        ["event_id", "created_at", "attempts", *tenant_names],
        select(
            literal(entry.id, outbox_columns.event_id.type),
            literal(entry.now, outbox_columns.created_at.type),
            literal(0, outbox_columns.attempts.type),
            *tenant_columns,
        ).where(condition),
    )
    return audit, outbox


def audit_statement(entry: AuditEntry) -> UpdateBase:
    """An event that is the whole write (a failed login, an admin's read): both rows, one
    statement."""
    return chained_writes(*audit_writes(entry))


def names_a_missing_audit_table(error: ProgrammingError) -> bool:
    """The schema before migration 0012: the statement named audit_events or event_outbox."""
    if not names_a_missing_table(error):
        return False
    diag = getattr(error.orig, "diag", None)
    message = getattr(diag, "message_primary", None) or str(error.orig)
    return any(f'"{table}"' in message for table in _AUDIT_TABLES)


async def with_audit_fallback(
    run: Callable[[bool], Awaitable[Result]],
) -> Result:
    """`run(True)` sends the statement with its audit writes; on the schema before the audit
    trail's migration (a deploy under way) it is refused at parse, before it touched a row, and
    `run(False)` sends it again without them. Request sessions only (they autocommit)."""
    try:
        return await run(True)
    except ProgrammingError as error:
        if not names_a_missing_audit_table(error):
            raise
    return await run(False)
