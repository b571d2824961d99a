"""Reads and writes of sessions and refresh tokens, each in as few round trips as it can.

Sessions belong to users, so these statements join the users table (an account that is disabled
has no live session); they never write it: users/repository does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Delete,
    Insert,
    LargeBinary,
    Uuid,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from authapi.abuse.login_throttle import AttemptCount
from authapi.db.chained_writes import chained_writes
from authapi.models import AuthSession, DeviceToken, RefreshToken, User
from authapi.users import repository as users

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


@dataclass(frozen=True)
class NewDeviceToken:
    """A device token a sign-in hands out; only its hash is written."""

    token_hash: bytes
    user_id: uuid.UUID
    expires_at: datetime
    now: datetime

    def insert(self) -> Insert:
        return insert(DeviceToken).values(
            token_hash=self.token_hash,
            user_id=self.user_id,
            created_at=self.now,
            expires_at=self.expires_at,
        )


def forget_device_token(token_hash: bytes) -> Delete:
    """The device token a sign-in presented: replaced by the one it hands out."""
    return delete(DeviceToken).where(DeviceToken.token_hash == token_hash)


async def create_session(
    db: AsyncSession, *, session: NewSession, alongside: tuple[UpdateBase, ...] = ()
) -> None:
    """Write the session and its first token, and every other write of the sign-in, in one
    statement: the user's own row at registration, a device token, throttle resets, a rehash."""
    await db.execute(chained_writes(*alongside, *session.inserts()))


@dataclass(frozen=True)
class LoginAttempt:
    """What counting one login attempt found, before the password is checked."""

    user: User | None
    allowed: bool  # the throttles let it check its password
    refused_by_account: bool  # refused by the account-wide layer (else by its own pair)
    account_counted: bool  # the account-wide layer counted it (not a trusted device)
    device_trusted: bool
    locked_until: datetime | None  # the refusing layer's lock, as the statement found it
    failures: int | None  # the pair's count including this attempt, when allowed


def _device_trusted(email: str, token_hash: bytes | None, now: datetime) -> ColumnElement[bool]:
    if token_hash is None:
        return false()
    return exists(
        select(DeviceToken.token_hash)
        .join(User, User.id == DeviceToken.user_id)
        .where(
            User.email == email,
            DeviceToken.token_hash == token_hash,
            DeviceToken.expires_at > literal(now, _TIMESTAMPTZ),
        )
    )


async def record_login_attempt(
    db: AsyncSession,
    *,
    email: str,
    device_token_hash: bytes | None,
    count: Callable[[ColumnElement[bool]], AttemptCount],
    now: datetime,
) -> LoginAttempt:
    """Count the attempt with the throttles and read the account, in one round trip.

    `count` builds the throttles' upserts given whether the device is trusted (abuse owns them);
    this runs them with the user's lookup, so the attempt is counted in the same statement that
    finds out who it is for.
    """
    device_trusted = _device_trusted(email, device_token_hash, now)
    attempt = count(device_trusted)
    row = await users.get_user_by_email(
        db,
        email=email,
        alongside=(
            device_trusted.label("device_trusted"),
            exists(select(attempt.account.c.failures)).label("account_counted"),
            select(attempt.account_client.c.failures).scalar_subquery().label("failures"),
            attempt.account_locked_until.label("account_locked_until"),
            attempt.account_client_locked_until.label("account_client_locked_until"),
        ),
        ctes=(attempt.account, attempt.account_client),
    )
    user, (trusted, account_counted, failures, account_lock, pair_lock) = row
    allowed = failures is not None
    refused_by_account = not allowed and not trusted and not account_counted
    return LoginAttempt(
        user=user,
        allowed=allowed,
        refused_by_account=refused_by_account,
        account_counted=bool(account_counted),
        device_trusted=bool(trusted),
        locked_until=account_lock if refused_by_account else pair_lock,
        failures=failures,
    )


@dataclass(frozen=True)
class Rotation:
    session_id: uuid.UUID
    user_id: uuid.UUID
    session_created_at: datetime  # when its sign-in happened: the tokens' `auth_time`


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
        .returning(
            RefreshToken.session_id,
            AuthSession.user_id,
            AuthSession.expires_at,
            AuthSession.created_at.label("session_created_at"),
        )
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
        await db.execute(
            select(
                consumed.c.session_id, consumed.c.user_id, consumed.c.session_created_at
            ).add_cte(successor)
        )
    ).first()
    if row is None:
        return None
    return Rotation(
        session_id=row.session_id,
        user_id=row.user_id,
        session_created_at=row.session_created_at,
    )


async def find_consumed_token_session(db: AsyncSession, *, token_hash: bytes) -> uuid.UUID | None:
    """The session of a token that was already exchanged, if `token_hash` is one."""
    return await db.scalar(
        select(RefreshToken.session_id).where(
            RefreshToken.token_hash == token_hash, RefreshToken.consumed_at.is_not(None)
        )
    )


async def revoke_sessions_of(db: AsyncSession, *, email: str, reason: str, now: datetime) -> None:
    """End every live session of the account with this email."""
    await db.execute(
        update(AuthSession)
        .where(
            AuthSession.user_id == select(User.id).where(User.email == email).scalar_subquery(),
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoke_reason=reason)
    )


async def revoke_session(
    db: AsyncSession, *, session_id: uuid.UUID, reason: str, now: datetime
) -> None:
    await db.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
    )


async def revoke_live_session(
    db: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID, reason: str, now: datetime
) -> bool:
    """End this session if it is live and its user active, in one statement; False if it was not
    (revoked, expired, someone else's, or the user is disabled): the check and the write at once."""
    ended = await db.scalar(
        update(AuthSession)
        .where(
            AuthSession.id == session_id,
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
            AuthSession.user_id == User.id,
            User.is_active.is_(True),
        )
        .values(revoked_at=now, revoke_reason=reason)
        .returning(AuthSession.id)
    )
    return ended is not None


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
