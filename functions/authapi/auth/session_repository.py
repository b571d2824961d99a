"""The sessions API's reads and writes: each checks that the caller's own session is live (and
its user active) in the same statement that lists or ends sessions: one statement per request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Executable,
    String,
    exists,
    func,
    null,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from authapi.db.expand import execute_on_either_schema
from authapi.models import AuthSession, User


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


async def end_sessions(
    db: AsyncSession,
    *,
    caller: Caller,
    which: ColumnElement[bool],
    reason: str,
    now: datetime,
) -> Ended:
    """End `which` of the caller's live sessions, if the caller's own session is live: one
    statement, so a refused token ends nothing."""
    ended = (
        update(AuthSession)
        .where(*_live_sessions_of(caller, now), which, _caller_is_live(caller, now))
        .values(revoked_at=now, revoke_reason=reason)
        .returning(AuthSession.id)
        .cte("ended")
    )
    row = (
        await db.execute(
            select(
                _caller_is_live(caller, now).label("caller_live"),
                select(func.array_agg(ended.c.id)).scalar_subquery().label("ended"),
            )
        )
    ).one()
    return Ended(caller_live=bool(row.caller_live), session_ids=frozenset(row.ended or ()))


@dataclass(frozen=True)
class SessionRow:
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime | None
    user_agent: str | None
    ip: str | None
    current: bool


def _listing(caller: Caller, now: datetime, with_details: bool) -> Executable:
    # before migration 0007 the details are not there to show: NULL, as for older sessions
    details = (
        (AuthSession.last_used_at, AuthSession.user_agent, AuthSession.ip)
        if with_details
        else (
            null().cast(DateTime(timezone=True)).label("last_used_at"),
            null().cast(String()).label("user_agent"),
            null().cast(String()).label("ip"),
        )
    )
    return (
        select(
            AuthSession.id,
            AuthSession.created_at,
            *details,
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
    result = await execute_on_either_schema(
        db, lambda with_details: _listing(caller, now, with_details)
    )
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
