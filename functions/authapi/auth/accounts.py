"""Disabling and enabling accounts: a disabled account has no live session, and enabling it again
revives none of the old tokens (ASVS 7.4.2). The admin API calls this; so does
`make account-disable EMAIL=`."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authapi.auth import repository
from authapi.users import repository as users

logger = logging.getLogger(__name__)


async def set_account_active(
    db: AsyncSession, *, email: str, active: bool, now: datetime
) -> uuid.UUID | None:
    """Enable or disable the account with this email, in the caller's transaction; its id, or
    None when there is none. Disabling revokes every session first, with the app's clock (the
    database trigger does the same for a plain SQL UPDATE, and then finds nothing left)."""
    if not active:
        await repository.revoke_sessions_of(db, email=email, reason="account_disabled", now=now)
    user_id = await users.set_active(db, email=email, active=active, now=now)
    if user_id is not None:
        logger.warning(
            "account enabled" if active else "account disabled", extra={"user_id": str(user_id)}
        )
    return user_id
