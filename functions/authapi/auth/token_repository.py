"""What a token is now, for RFC 7662 introspection: one read, no lock, nothing written."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Executable, String, null, select
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.db.expand import execute_on_either_schema
from authapi.models import AuthSession, RefreshToken, User


@dataclass(frozen=True)
class LiveToken:
    """A refresh token that could be exchanged now, and whose it is."""

    session_id: uuid.UUID
    user_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime
    client_id: str | None  # None: a session from before migration 0008 (the default client)


def _live(token_hash: bytes, now: datetime, with_client: bool) -> Executable:
    client = AuthSession.client_id if with_client else null().cast(String())
    return (
        select(
            RefreshToken.session_id,
            AuthSession.user_id,
            RefreshToken.created_at,
            RefreshToken.expires_at,
            client.label("client_id"),
        )
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .join(User, User.id == AuthSession.user_id)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.consumed_at.is_(None),
            RefreshToken.expires_at > now,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
            User.is_active.is_(True),
        )
    )


async def find_live_token(
    db: AsyncSession, *, token_hash: bytes, now: datetime
) -> LiveToken | None:
    """The unspent, unexpired token with this hash in a live session: one statement, no lock."""
    result = await execute_on_either_schema(
        db, lambda with_client: _live(token_hash, now, with_client)
    )
    row = result.first()
    if row is None:
        return None
    return LiveToken(
        session_id=row.session_id,
        user_id=row.user_id,
        issued_at=row.created_at,
        expires_at=row.expires_at,
        client_id=row.client_id,
    )
