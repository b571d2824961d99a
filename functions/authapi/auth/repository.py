"""Reads and writes of sessions and refresh tokens, each in as few round trips as it can.

Sessions belong to users, so these statements join the users table (an account that is disabled
has no live session); they never write it: users/repository does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    DateTime,
    Delete,
    Insert,
    Update,
    Uuid,
    bindparam,
    delete,
    exists,
    false,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from authapi.abuse.login_throttle import AttemptCount
from authapi.audit.record import AuditEntry, audit_statement, audit_writes, with_audit_fallback
from authapi.auth.session_origin import SessionOrigin
from authapi.db.chained_writes import chained_writes
from authapi.db.expand import (
    execute_on_either_schema,
    names_a_missing_column,
    names_a_missing_table,
)
from authapi.mfa.repository import (
    FactorSummary,
    factor_summary,
    factor_summary_columns,
    has_active_factor,
)
from authapi.models import AuthSession, DeviceToken, RefreshToken, User
from authapi.tenant_scope import tenant_values
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
    origin: SessionOrigin
    client_id: str  # the client that signed in (the JSON API's: AUTHAPI_DEFAULT_CLIENT_ID)
    # a sign-in with a second factor (migration 0011's columns, written only by MFA flows,
    # which run only where that schema is): its `amr`, and when the factor was given
    amr: str | None = None
    mfa_at: datetime | None = None

    def inserts(self, *, with_client: bool = True) -> tuple[Insert, Insert]:
        """`with_client`: the schema has migration 0008's column (db/expand.py)."""
        client: dict[str, object] = {"client_id": self.client_id} if with_client else {}
        if self.amr is not None:
            client.update(amr=self.amr, mfa_at=self.mfa_at)
        return (
            insert(AuthSession).values(
                id=self.session_id,
                user_id=self.user_id,
                created_at=self.now,
                expires_at=self.session_expires_at,
                user_agent=self.origin.user_agent,
                ip=self.origin.ip,
                last_used_at=self.now,
                **client,
                **tenant_values(),
            ),
            insert(RefreshToken).values(
                id=uuid.uuid4(),
                session_id=self.session_id,
                token_hash=self.token_hash,
                created_at=self.now,
                expires_at=self.token_expires_at,
                **tenant_values(),
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
            **tenant_values(),
        )


def forget_device_token(token_hash: bytes) -> Delete:
    """The device token a sign-in presented: replaced by the one it hands out."""
    return delete(DeviceToken).where(DeviceToken.token_hash == token_hash)


async def create_session(
    db: AsyncSession,
    *,
    session: NewSession,
    alongside: tuple[UpdateBase, ...] = (),
    audit: tuple[UpdateBase, ...] = (),
) -> None:
    """Write the session and its first token, and every other write of the sign-in, in one
    statement: the user's own row at registration, a device token, throttle resets, a rehash,
    and `audit` (audit_writes: left out on the schema before the audit trail's migration)."""

    async def write(with_audit: bool) -> None:
        recorded = audit if with_audit else ()
        await execute_on_either_schema(
            db,
            lambda with_client: chained_writes(
                *alongside, *recorded, *session.inserts(with_client=with_client)
            ),
        )

    await with_audit_fallback(write)


async def record_event(db: AsyncSession, entry: AuditEntry) -> None:
    """An event that is the whole write (a failed login): one statement, none on the schema
    before the audit trail's migration."""

    async def write(with_audit: bool) -> None:
        if with_audit:
            await db.execute(audit_statement(entry))

    await with_audit_fallback(write)


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
    has_mfa: bool = False  # the account has an active second factor (never, before 0011)


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
    notice: Callable[[AttemptCount], CTE] | None = None,
) -> LoginAttempt:
    """Count the attempt with the throttles and read the account, in one round trip.

    `count` builds the throttles' upserts given whether the device is trusted (abuse owns them);
    this runs them with the user's lookup, so the attempt is counted in the same statement that
    finds out who it is for. `notice`: a further write of the same statement that reads the
    count (the lockout notice's outbox row); left out on a schema without its table.
    """
    device_trusted = _device_trusted(email, device_token_hash, now)
    attempt = count(device_trusted)
    alongside = (
        device_trusted.label("device_trusted"),
        exists(select(attempt.account.c.failures)).label("account_counted"),
        select(attempt.account_client.c.failures).scalar_subquery().label("failures"),
        attempt.account_locked_until.label("account_locked_until"),
        attempt.account_client_locked_until.label("account_client_locked_until"),
    )
    ctes = (attempt.account, attempt.account_client)
    # the factor lookup rides in the same statement (no extra round trip for any account)
    with_mfa = (*alongside, has_active_factor(User.id).label("has_mfa"))
    try:
        row = await users.get_user_by_email(
            db,
            email=email,
            alongside=with_mfa,
            ctes=(*ctes, notice(attempt)) if notice is not None else ctes,
            with_verification=True,
        )
    except ProgrammingError as error:
        # the schema before MFA's, the lifecycle's or the outbox's migration (a deploy under
        # way): refused at parse, nothing counted yet; counted now without what is missing (such
        # a schema has no factor, so no account needs one)
        if not (names_a_missing_table(error) or names_a_missing_column(error)):
            raise
        row = await _attempt_on_older_schema(db, email, alongside, ctes, notice, attempt)
    user, (trusted, account_counted, failures, account_lock, pair_lock, *mfa) = row
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
        has_mfa=bool(mfa and mfa[0]) and user is not None,
    )


async def _attempt_on_older_schema(
    db: AsyncSession,
    email: str,
    alongside: tuple[ColumnElement[Any], ...],
    ctes: tuple[CTE, ...],
    notice: Callable[[AttemptCount], CTE] | None,
    attempt: AttemptCount,
) -> tuple[User | None, tuple[object, ...]]:
    if notice is not None:
        try:
            return await users.get_user_by_email(
                db, email=email, alongside=alongside, ctes=(*ctes, notice(attempt))
            )
        except ProgrammingError as error:
            if not names_a_missing_table(error):
                raise
    return await users.get_user_by_email(db, email=email, alongside=alongside, ctes=ctes)


def mark_session_mfa(*, session_id: uuid.UUID, amr: str, now: datetime) -> Update:
    """A second factor given in this session now (step-up): its refreshed tokens carry it."""
    return update(AuthSession).where(AuthSession.id == session_id).values(amr=amr, mfa_at=now)


def forget_session_mfa(*, session_id: uuid.UUID) -> Update:
    """The session's second factor is gone (MFA disabled): its refreshed tokens say a password
    alone again (with AUTHAPI_MFA_REQUIRED, enrol-only)."""
    return update(AuthSession).where(AuthSession.id == session_id).values(amr=None, mfa_at=None)


def end_other_sessions(
    *, user_id: uuid.UUID, session_id: uuid.UUID, reason: str, now: datetime
) -> UpdateBase:
    """Every live session of the account but `session_id` ends (MFA disabled)."""
    return (
        update(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.id != session_id,
            AuthSession.revoked_at.is_(None),
        )
        .values(revoked_at=now, revoke_reason=reason)
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
    db: AsyncSession,
    *,
    session_id: uuid.UUID,
    reason: str,
    now: datetime,
    audit: AuditEntry | None = None,
) -> None:
    """End the session, if it is live; `audit`: the event, recorded in the same statement only
    when this statement ended it (a concurrent revocation that got there first records its own)."""
    revoked = (
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
        .returning(AuthSession.id)
    )

    async def write(with_audit: bool) -> None:
        if audit is None or not with_audit:
            await db.execute(revoked)
            return
        ended = revoked.cte("revoked")
        await db.execute(
            chained_writes(*audit_writes(audit, when=exists(select(ended.c.id)))).add_cte(ended)
        )

    await with_audit_fallback(write)


# Built once, with bind parameters: building the select on every /me took about a third of its
# time in SQLAlchemy (the statement, then a fresh cache key for it), for a statement that never
# changes.
_LIVE_SESSION_USER = (
    select(User)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id", type_=Uuid()),
        User.is_active.is_(True),
        AuthSession.id == bindparam("session_id", type_=Uuid()),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now", type_=_TIMESTAMPTZ),
    )
)
# with the account's verification (migration 0010), which `select(User)` leaves deferred
_LIVE_SESSION_USER_VERIFIED = _LIVE_SESSION_USER.options(*users.VERIFICATION)


# with the account's active authenticator too (migration 0011): the bearer's principal
_LIVE_SESSION_USER_MFA = _LIVE_SESSION_USER_VERIFIED.add_columns(*factor_summary_columns(User.id))


async def get_principal_user(
    db: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> tuple[User, FactorSummary | None] | None:
    """`get_user_in_live_session`, and the account's active authenticator (None: it has none,
    as on the schema before migration 0011), in the same one statement."""
    parameters = {"user_id": user_id, "session_id": session_id, "now": now}
    try:
        row = (await db.execute(_LIVE_SESSION_USER_MFA, parameters)).first()
    except ProgrammingError as error:
        if not (names_a_missing_table(error) or names_a_missing_column(error)):
            raise
        user = await get_user_in_live_session(db, user_id=user_id, session_id=session_id, now=now)
        return None if user is None else (user, None)
    if row is None:
        return None
    user, *factor = row
    return user, factor_summary(*factor)


async def get_user_in_live_session(
    db: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> User | None:
    """The active user owning this session, if the session is neither revoked nor expired;
    with `email_verified_at` where the schema has it (users.email_verified)."""
    result = await execute_on_either_schema(
        db,
        lambda newest: _LIVE_SESSION_USER_VERIFIED if newest else _LIVE_SESSION_USER,
        {"user_id": user_id, "session_id": session_id, "now": now},
    )
    user = result.scalars().first()
    return user if isinstance(user, User) else None
