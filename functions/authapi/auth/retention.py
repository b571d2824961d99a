"""Deleting sessions long over, with their refresh tokens, in batches: the tables stay bounded.

A session is over when it expired or was revoked; neither ever comes back, so a session over for
longer than the retention period can go, and a token of a live session never does (its consumed
tokens are what detects reuse). A device token goes once it expired: it exempts nothing then.
Called by the scheduled maintenance run. Each function is one statement that deletes at most
`limit` rows (the tokens first, so that deleting a session never cascades to more rows than that)
and returns how many it deleted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.db.batches import delete_batch
from authapi.models import AuthSession, DeviceToken, RefreshToken


def _over_before(horizon: datetime) -> ColumnElement[bool]:
    return or_(AuthSession.expires_at < horizon, AuthSession.revoked_at < horizon)


async def purge_refresh_tokens_of_old_sessions(
    db: AsyncSession, *, over_before: datetime, limit: int
) -> int:
    """Refresh tokens whose session expired or was revoked before `over_before`."""
    stale = (
        select(RefreshToken.id)
        .join(AuthSession, AuthSession.id == RefreshToken.session_id)
        .where(_over_before(over_before))
        .limit(limit)
        .with_for_update(of=RefreshToken, skip_locked=True)
    )
    return await delete_batch(db, RefreshToken.id, stale)


async def purge_old_sessions(db: AsyncSession, *, over_before: datetime, limit: int) -> int:
    """Sessions that expired or were revoked before `over_before` and have no token left."""
    stale = (
        select(AuthSession.id)
        .where(
            _over_before(over_before),
            ~exists().where(RefreshToken.session_id == AuthSession.id),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return await delete_batch(db, AuthSession.id, stale)


async def purge_expired_device_tokens(db: AsyncSession, *, now: datetime, limit: int) -> int:
    """Device tokens that expired before `now`: a sign-in no longer accepts them."""
    stale = (
        select(DeviceToken.token_hash)
        .where(DeviceToken.expires_at < now)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return await delete_batch(db, DeviceToken.token_hash, stale)
