"""The first administrator (issue 17): `make admin-create EMAIL=` locally, the migrate function's
`{"admin_create": "<email>"}` event in AWS. Both grant the admin role to an account (recorded as
admin.role_granted, actor the service); only the local command may create the account first,
with a password typed at its prompt (a Lambda event is logged: it never carries a password)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authapi.admin import repository
from authapi.audit.events import EventType
from authapi.audit.record import SERVICE, AuditEntry
from authapi.config import Settings
from authapi.passwords import PasswordHashing, normalize_password
from authapi.users import repository as users
from authapi.users.password_policy import check_password_policy


@dataclass(frozen=True)
class Granted:
    user_id: uuid.UUID
    created: bool  # the account was created for this


def normalized_email(email: str) -> str:
    return email.strip().lower()


async def grant_admin(db: AsyncSession, *, email: str, now: datetime) -> uuid.UUID | None:
    """Give the account with this address the admin role; its id, or None when none has it."""
    entry = AuditEntry(EventType.ADMIN_ROLE_GRANTED, now=now, actor=SERVICE)
    return await repository.grant_admin_role(
        db, email=normalized_email(email), now=now, audit=entry
    )


async def create_admin(
    db: AsyncSession,
    *,
    settings: Settings,
    hashing: PasswordHashing,
    email: str,
    password: str,
    now: datetime,
) -> Granted:
    """Create the account (active, with this password) and grant it the role, in the caller's
    transaction; WeakPasswordError as at registration."""
    email = normalized_email(email)
    password = normalize_password(password)
    check_password_policy(settings, password=password, email=email)
    user = users.NewUser(
        id=uuid.uuid4(), email=email, password_hash=await hashing.hash(password), created_at=now
    )
    await db.execute(user.insert())
    granted = await grant_admin(db, email=email, now=now)
    assert granted == user.id  # the row just inserted, in this transaction
    return Granted(user_id=user.id, created=True)
