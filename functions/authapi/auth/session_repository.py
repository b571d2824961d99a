"""The sessions API's reads and writes: each checks that the caller's own session is live (and
its user active) in the same statement that lists or ends sessions: one statement per request."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Executable,
    exists,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.dml import UpdateBase

from authapi.audit.events import EventType
from authapi.audit.record import AuditEntry, audit_writes, with_audit_fallback
from authapi.db.expand import execute_on_either_schema
from authapi.models import AuthSession, RefreshToken, User


@dataclass(frozen=True)
class Caller:
    """Whoever a verified access token names: an account and the session it belongs to."""

    user_id: uuid.UUID
    session_id: uuid.UUID


def _caller_is_live(caller: Caller, now: datetime) -> ColumnElement[bool]:
    own = aliased(AuthSession, name="own_session")
    return exists(
        select(own.id)
        .join(User, User.id == own.user_id)
        .where(
            own.id == caller.session_id,
            own.user_id == caller.user_id,
            own.revoked_at.is_(None),
            own.expires_at > now,
            User.is_active.is_(True),
        )
    )


def _live_sessions_of(caller: Caller, now: datetime) -> tuple[ColumnElement[bool], ...]:
    return (
        AuthSession.user_id == caller.user_id,
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > now,
    )


# Which of the caller's live sessions a request ends
def this_session(caller: Caller) -> ColumnElement[bool]:
    return AuthSession.id == caller.session_id


def other_sessions(caller: Caller) -> ColumnElement[bool]:
    return AuthSession.id != caller.session_id


def every_session() -> ColumnElement[bool]:
    return true()


def session_with_id(session_id: uuid.UUID) -> ColumnElement[bool]:
    return AuthSession.id == session_id


@dataclass(frozen=True)
class Ended:
    caller_live: bool  # the caller's own session was live when the statement began
    session_ids: frozenset[uuid.UUID]  # the sessions this statement ended


@dataclass(frozen=True)
class EndedEvent:
    """The audit event of ending sessions, written by the statement that ends them.

    Recorded only when the request succeeds: `session_id` (the caller's, or the one a request
    names) is among those the statement ended, or (`caller_live_enough`) the caller's own
    session was live (a logout of the others, which may have had no sibling to end).
    """

    type: EventType
    session_id: uuid.UUID
    details: Mapping[str, Any]  # with "session_ids": the sessions the statement ended
    client_id: str | None = None  # the client of the caller's access token
    caller_live_enough: bool = False


def _ids_of(ended: CTE) -> ColumnElement[Any]:
    # a jsonb array of the ended sessions' ids (empty, not NULL, when none)
    return func.coalesce(select(func.jsonb_agg(ended.c.id)).scalar_subquery(), literal([], JSONB))


def _ended_event_writes(
    event: EndedEvent, *, caller: Caller, ended: CTE, now: datetime
) -> tuple[UpdateBase, ...]:
    details = literal(dict(event.details), JSONB).op("||")(
        func.jsonb_build_object("session_ids", _ids_of(ended))
    )
    when = (
        _caller_is_live(caller, now)
        if event.caller_live_enough
        else exists(select(ended.c.id).where(ended.c.id == event.session_id))
    )
    entry = AuditEntry(
        event.type,
        now=now,
        user_id=caller.user_id,
        session_id=event.session_id,
        client_id=event.client_id,
        details=details,
    )
    return audit_writes(entry, when=when)


async def end_sessions(
    db: AsyncSession,
    *,
    caller: Caller,
    which: ColumnElement[bool],
    reason: str,
    now: datetime,
    event: EndedEvent | None = None,
) -> Ended:
    """End `which` of the caller's live sessions, if the caller's own session is live: one
    statement, so a refused token ends nothing; `event`: its audit row, in that statement."""
    ended = (
        update(AuthSession)
        .where(*_live_sessions_of(caller, now), which, _caller_is_live(caller, now))
        .values(revoked_at=now, revoke_reason=reason)
        .returning(AuthSession.id)
        .cte("ended")
    )
    statement = select(
        _caller_is_live(caller, now).label("caller_live"),
        select(func.array_agg(ended.c.id)).scalar_subquery().label("ended"),
    )

    async def run(with_audit: bool) -> Any:
        audit = (
            _ended_event_writes(event, caller=caller, ended=ended, now=now)
            if event is not None and with_audit
            else ()
        )
        recorded = [write.cte(f"audit_{index}") for index, write in enumerate(audit)]
        return (await db.execute(statement.add_cte(*recorded) if recorded else statement)).one()

    # on the schema before the audit trail's migration, the same without the event
    row = await with_audit_fallback(run)
    return Ended(caller_live=bool(row.caller_live), session_ids=frozenset(row.ended or ()))


@dataclass(frozen=True)
class SessionRow:
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None
    user_agent: str | None
    ip: str | None
    current: bool


def _listing(caller: Caller, now: datetime) -> Executable:
    return (
        select(
            AuthSession.id,
            AuthSession.created_at,
            AuthSession.last_used_at,
            AuthSession.user_agent,
            AuthSession.ip,
            (AuthSession.id == caller.session_id).label("current"),
        )
        .where(*_live_sessions_of(caller, now), _caller_is_live(caller, now))
        .order_by(AuthSession.created_at.desc(), AuthSession.id)
    )


async def list_live_sessions(
    db: AsyncSession, *, caller: Caller, now: datetime
) -> list[SessionRow]:
    """The caller's live sessions, newest first; none at all when the caller's own is not live
    (a live caller always finds its own)."""
    result = await db.execute(_listing(caller, now))
    return [
        SessionRow(
            id=row.id,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            user_agent=row.user_agent,
            ip=row.ip,
            current=bool(row.current),
        )
        for row in result
    ]


def _of_client(client_id: str, default_client_id: str) -> ColumnElement[bool]:
    # NULL: a session from before migration 0008, the JSON API's (the default client)
    return func.coalesce(AuthSession.client_id, literal(default_client_id)) == literal(client_id)


async def end_session_of_token(
    db: AsyncSession,
    *,
    refresh_token_hash: bytes | None = None,
    session_id: uuid.UUID | None = None,
    client_id: str,
    default_client_id: str,
    reason: str,
    now: datetime,
) -> bool:
    """End the live session a refresh token (any of its chain, spent or not) or a session id
    names, if it is `client_id`'s: one statement. Whether one was ended."""
    named = (
        AuthSession.id.in_(
            select(RefreshToken.session_id).where(RefreshToken.token_hash == refresh_token_hash)
        )
        if refresh_token_hash is not None
        else AuthSession.id == session_id
    )

    def statement(with_audit: bool, with_client: bool) -> Executable:
        # before migration 0008 sessions record no client: the token alone decides
        client = (_of_client(client_id, default_client_id),) if with_client else ()
        ended = (
            update(AuthSession)
            .where(named, AuthSession.revoked_at.is_(None), *client)
            .values(revoked_at=now, revoke_reason=reason)
            .returning(AuthSession.id, AuthSession.user_id)
        )
        if not with_audit:
            return ended
        # the session's holder, through a client: the event is theirs (session.revoked)
        found = ended.cte("ended")
        revoked = AuditEntry(
            EventType.SESSION_REVOKED,
            now=now,
            user_id=select(found.c.user_id).scalar_subquery(),
            session_id=select(found.c.id).scalar_subquery(),
            client_id=client_id,
            details={"reason": reason},
        )
        audit = audit_writes(revoked, when=exists(select(found.c.id)))
        return select(found.c.id).add_cte(
            *(write.cte(f"audit_{index}") for index, write in enumerate(audit))
        )

    async def run(with_audit: bool) -> bool:
        result = await execute_on_either_schema(
            db, lambda with_client: statement(with_audit, with_client)
        )
        return result.first() is not None

    # on the schema before the audit trail's migration, the same without the event
    return await with_audit_fallback(run)
