"""Reads and writes of the users table. No decisions here: the services make them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Insert,
    Update,
    delete,
    insert,
    inspect,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer
from sqlalchemy.sql.base import ExecutableOption

from authapi.models import User
from authapi.tenant_scope import tenant_values
from authapi.users.confusables import skeleton


@dataclass(frozen=True)
class NewUser:
    """An account about to be written; registration inserts it with its first session."""

    id: uuid.UUID
    email: str
    password_hash: str = field(repr=False)
    created_at: datetime
    is_active: bool = True

    def insert(self) -> Insert:
        """The INSERT, to be chained with the first session's rows in one statement."""
        return insert(User).values(
            id=self.id,
            email=self.email,
            email_skeleton=skeleton(self.email),
            password_hash=self.password_hash,
            is_active=self.is_active,
            created_at=self.created_at,
            updated_at=self.created_at,
            **tenant_values(),
        )


# the option that loads the deferred `email_verified_at` with the user (schema 0010 on)
VERIFICATION: tuple[ExecutableOption, ...] = (undefer(User.email_verified_at),)


def email_verified(user: User | NewUser) -> bool:
    """Whether the account's address is verified; False where it was not loaded (the schema
    before migration 0010, on which nothing can verify it) or for an account just registered."""
    if isinstance(user, NewUser):
        return False
    if "email_verified_at" in inspect(user).unloaded:
        return False
    return user.email_verified_at is not None


async def get_user_by_email(
    db: AsyncSession,
    *,
    email: str,
    alongside: tuple[ColumnElement[Any], ...] = (),
    ctes: tuple[CTE, ...] = (),
    with_verification: bool = False,
) -> tuple[User | None, tuple[Any, ...]]:
    """The user with this email, or None, and the `alongside` values, in one round trip.

    `alongside` (and the `ctes` they read) carry another domain's work the caller needs with the
    user (login: counting the attempt). The query starts from a one-row constant, so those values
    come back, and those CTEs run, even when no user has this email. `with_verification`:
    load `email_verified_at` too (migration 0010's column; see `email_verified`).
    """
    anchor = select(literal(1).label("one")).subquery("anchor")
    statement = select(User, *alongside).select_from(anchor).outerjoin(User, User.email == email)
    if with_verification:
        statement = statement.options(*VERIFICATION)
    row = (await db.execute(statement.add_cte(*ctes) if ctes else statement)).one()
    return row[0], tuple(row[1:])


async def delete_user_by_email(db: AsyncSession, *, email: str) -> bool:
    """Delete the account with this address (its sessions and tokens go by ON DELETE CASCADE);
    one round trip. Only for the deploy's smoke account, when the flow could not delete it."""
    deleted = await db.execute(delete(User).where(User.email == email).returning(User.id))
    return deleted.first() is not None


async def verify_email_of(db: AsyncSession, *, email: str, now: datetime) -> bool:
    """Mark the account's address verified; one round trip. Only for the deploy's smoke account
    (its mail goes to SES's simulator, no link is ever clicked) when verification is required."""
    verified = await db.execute(
        update(User).where(User.email == email).values(email_verified_at=now).returning(User.id)
    )
    return verified.first() is not None


def set_password_hash(*, user_id: uuid.UUID, password_hash: str, now: datetime) -> Update:
    """The UPDATE of a rehash, to run with the sign-in's other writes."""
    return (
        update(User).where(User.id == user_id).values(password_hash=password_hash, updated_at=now)
    )


async def set_active(
    db: AsyncSession, *, email: str, active: bool, now: datetime
) -> uuid.UUID | None:
    """Set the account's `is_active`; its id, or None when no account has this email."""
    user_id: uuid.UUID | None = await db.scalar(
        update(User)
        .where(User.email == email)
        .values(is_active=active, updated_at=now)
        .returning(User.id)
    )
    return user_id


async def active_account_address(
    db: AsyncSession, *, user_id: uuid.UUID | None = None, email: str | None = None
) -> tuple[uuid.UUID, str] | None:
    """(id, email) of the active account with this id or email, else None (the mailer's
    recipient: a disabled or deleted account gets no mail). One round trip."""
    condition = User.id == user_id if user_id is not None else User.email == email
    row = (await db.execute(select(User.id, User.email).where(condition, User.is_active))).first()
    return (row[0], row[1]) if row is not None else None
