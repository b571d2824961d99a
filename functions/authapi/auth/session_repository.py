"""The sessions API's reads and writes: each checks that the caller's own session is live (and
its user active) in the same statement that lists or ends sessions: one statement per request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Executable,
    exists,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

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

    def statement(with_client: bool) -> Executable:
        # before migration 0008 sessions record no client: the token alone decides
        client = (_of_client(client_id, default_client_id),) if with_client else ()
        return (
            update(AuthSession)
            .where(named, AuthSession.revoked_at.is_(None), *client)
            .values(revoked_at=now, revoke_reason=reason)
            .returning(AuthSession.id)
        )

    result = await execute_on_either_schema(db, statement)
    return result.first() is not None
