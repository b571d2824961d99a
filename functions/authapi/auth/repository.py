"""Reads and writes of sessions and refresh tokens, each in as few round trips as it can.

Sessions belong to users, so these statements join the users table (an account that is disabled
has no live session); they never write it: users/repository does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import DateTime, Insert, LargeBinary, Uuid, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.db.chained_insert import chained_insert
from authapi.models import AuthSession, RefreshToken, User

_TIMESTAMPTZ = DateTime(timezone=True)


@dataclass(frozen=True)
class NewSession:
    """The rows a login writes: a session and its first refresh token."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    session_expires_at: datetime
    token_hash: bytes
    token_expires_at: datetime
    now: datetime

    def inserts(self) -> tuple[Insert, Insert]:
        return (
            insert(AuthSession).values(
                id=self.session_id,
                user_id=self.user_id,
                created_at=self.now,
                expires_at=self.session_expires_at,
            ),
            insert(RefreshToken).values(
                id=uuid.uuid4(),
                session_id=self.session_id,
                token_hash=self.token_hash,
                created_at=self.now,
                expires_at=self.token_expires_at,
            ),
        )


async def create_session(
    db: AsyncSession, *, session: NewSession, user: Insert | None = None
) -> None:
    """Write the session and its first token, after the user's own row when `user` is given."""
    statements = (user, *session.inserts()) if user is not None else session.inserts()
    await db.execute(chained_insert(*statements))


@dataclass(frozen=True)
class Rotation:
    session_id: uuid.UUID
    user_id: uuid.UUID


async def rotate_refresh_token(
    db: AsyncSession,
    *,
    token_hash: bytes,
    new_token_hash: bytes,
    new_token_expires_at: datetime,
    now: datetime,
) -> Rotation | None:
    """Consume a live refresh token and issue its successor, atomically, in one statement.

    Returns None when the token is not live (unknown, consumed, expired, or its session or user is
    gone). The row lock taken by the UPDATE serialises concurrent refreshes of one token: the
    later one re-reads `consumed_at`, finds it set, and gets None.
    """
    consumed = (
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.consumed_at.is_(None),
            RefreshToken.expires_at > now,
            RefreshToken.session_id == AuthSession.id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
            AuthSession.user_id == User.id,
            User.is_active.is_(True),
        )
        .values(consumed_at=now)
        .returning(RefreshToken.session_id, AuthSession.user_id, AuthSession.expires_at)
        .cte("consumed")
    )
    successor = (
        insert(RefreshToken)
        .from_select(
            ["id", "session_id", "token_hash", "created_at", "expires_at"],
            select(
                literal(uuid.uuid4(), Uuid()),
                consumed.c.session_id,
                literal(new_token_hash, LargeBinary()),
                literal(now, _TIMESTAMPTZ),
                # a successor never outlives its session
                func.least(literal(new_token_expires_at, _TIMESTAMPTZ), consumed.c.expires_at),
            ),
        )
        .cte("successor")
    )
    row = (
        await db.execute(select(consumed.c.session_id, consumed.c.user_id).add_cte(successor))
    ).first()
    return Rotation(session_id=row.session_id, user_id=row.user_id) if row else None


async def find_consumed_token_session(db: AsyncSession, *, token_hash: bytes) -> uuid.UUID | None:
    """The session of a token that was already exchanged, if `token_hash` is one."""
    return await db.scalar(
        select(RefreshToken.session_id).where(
            RefreshToken.token_hash == token_hash, RefreshToken.consumed_at.is_not(None)
        )
    )


async def revoke_session(
    db: AsyncSession, *, session_id: uuid.UUID, reason: str, now: datetime
) -> None:
    await db.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
    )


async def get_user_in_live_session(
    db: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> User | None:
    """The active user owning this session, if the session is neither revoked nor expired."""
    return await db.scalar(
        select(User)
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(
            User.id == user_id,
            User.is_active.is_(True),
            AuthSession.id == session_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
    )
