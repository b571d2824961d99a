"""Reads and writes of the users table. No decisions here: the services make them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Insert, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.models import AuthSession, User


def insert_user(user: User) -> Insert:
    """The INSERT for a new user, to be chained with the first session's rows."""
    return insert(User).values(
        id=user.id,
        email=user.email,
        password_hash=user.password_hash,
        is_active=user.is_active,
        created_at=user.created_at,
        updated_at=user.updated_at,
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


async def update_password_hash(
    db: AsyncSession, *, user_id: uuid.UUID, password_hash: str, now: datetime
) -> None:
    await db.execute(
        update(User).where(User.id == user_id).values(password_hash=password_hash, updated_at=now)
    )
