"""The admin API's statements. Each action is one statement: the change, what it causes (the
sessions it ends, the mail it queues) and its audit row (authapi.audit.record), so a change is
never recorded without happening, nor happens unrecorded. Admin requests autocommit statement by
statement like every request (db/session.py): one statement is what makes an action atomic.

The statements read and write the users, sessions and MFA tables through their models; the
account-level decisions stay in admin/service.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    CTE,
    ColumnElement,
    Select,
    delete,
    exists,
    select,
    true,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.audit.reader import Position, decode_cursor, encode_cursor
from authapi.audit.record import AuditEntry, audit_writes
from authapi.mfa.repository import has_active_factor
from authapi.models import AuthSession, MfaFactor, MfaRecoveryCode, User

MAX_PAGE = 100
Status = Literal["active", "disabled", "unverified"]


@dataclass(frozen=True)
class Caller:
    """What the statement behind an admin credential finds: the account and its live session."""

    user_id: uuid.UUID
    is_admin: bool
    has_factor: bool


def _live_session_of(
    user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> Select[uuid.UUID, bool, bool]:
    return (
        select(
            User.id.label("user_id"),
            (User.role == "admin").label("is_admin"),
            has_active_factor(User.id).label("has_factor"),
        )
        .join(AuthSession, AuthSession.user_id == User.id)
        .where(
            User.id == user_id,
            User.is_active.is_(True),
            AuthSession.id == session_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
    )


async def find_caller(
    db: AsyncSession, *, user_id: uuid.UUID, session_id: uuid.UUID, now: datetime
) -> Caller | None:
    """The active account and live session a token names, its role and whether it has an
    active second factor, or None; one statement."""
    caller = _live_session_of(user_id, session_id, now).cte("caller")
    statement = select(caller.c.user_id, caller.c.is_admin, caller.c.has_factor)
    row = (await db.execute(statement)).first()
    if row is None:
        return None
    return Caller(user_id=row.user_id, is_admin=bool(row.is_admin), has_factor=bool(row.has_factor))


# -- reading accounts


@dataclass(frozen=True)
class UserRow:
    id: uuid.UUID
    email: str
    is_active: bool
    email_verified_at: datetime | None
    role: str
    created_at: datetime
    updated_at: datetime
    mfa_enabled: bool

    @property
    def status(self) -> Status:
        if not self.is_active:
            return "disabled"
        return "active" if self.email_verified_at is not None else "unverified"


_USER_COLUMNS = (
    User.id,
    User.email,
    User.is_active,
    User.email_verified_at,
    User.role,
    User.created_at,
    User.updated_at,
    has_active_factor(User.id).label("mfa_enabled"),
)


def _user_row(row: Any) -> UserRow:
    return UserRow(**{**row._asdict(), "mfa_enabled": bool(row.mfa_enabled)})


async def get_user(db: AsyncSession, *, user_id: uuid.UUID, audit: AuditEntry) -> UserRow | None:
    """The account, its view recorded (`audit`) only if there is one; one statement."""
    found = exists(select(User.id).where(User.id == user_id))
    statement = select(*_USER_COLUMNS).where(User.id == user_id).add_cte(*_audit(audit, found))
    row = (await db.execute(statement)).first()
    return None if row is None else _user_row(row)


@dataclass(frozen=True)
class UserFilter:
    email_prefix: str | None = None  # already lower-case
    created_after: datetime | None = None
    created_before: datetime | None = None
    status: Status | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if self.email_prefix:
            conditions.append(User.email.startswith(self.email_prefix, autoescape=True))
        if self.created_after is not None:
            conditions.append(User.created_at > self.created_after)
        if self.created_before is not None:
            conditions.append(User.created_at < self.created_before)
        if self.status == "disabled":
            conditions.append(User.is_active.is_(False))
        elif self.status == "active":
            conditions += [User.is_active.is_(True), User.email_verified_at.is_not(None)]
        elif self.status == "unverified":
            conditions += [User.is_active.is_(True), User.email_verified_at.is_(None)]
        return conditions


@dataclass(frozen=True)
class UserPage:
    users: Sequence[UserRow]
    next_cursor: str | None


async def list_users(
    db: AsyncSession, *, filters: UserFilter, cursor: str | None, limit: int, audit: AuditEntry
) -> UserPage:
    """One page of accounts, newest first (keyset on created_at, id), the read recorded
    (`audit`) in the same statement; one round trip."""
    limit = max(1, min(limit, MAX_PAGE))
    conditions = filters.conditions()
    if cursor is not None:
        after = decode_cursor(cursor)
        conditions.append(tuple_(User.created_at, User.id) < tuple_(after.at, after.id))
    statement = (
        select(*_USER_COLUMNS)
        .where(*conditions)
        .order_by(User.created_at.desc(), User.id.desc())
        .limit(limit + 1)
        .add_cte(*_audit(audit, true()))
    )
    rows = [_user_row(row) for row in (await db.execute(statement)).all()]
    page, more = rows[:limit], len(rows) > limit
    next_cursor = (
        encode_cursor(Position(at=page[-1].created_at, id=page[-1].id)) if more and page else None
    )
    return UserPage(users=page, next_cursor=next_cursor)


# -- actions: each one statement with its audit row


@dataclass(frozen=True)
class Outcome:
    found: bool  # the account exists (existed, for a deletion)
    changed: bool  # the action's own row matched (a factor to remove, an address to verify)


async def _run(db: AsyncSession, target: CTE, *writes: CTE, changed: CTE | None = None) -> Outcome:
    """The statement whose first CTE finds the account; `changed`: the CTE whose rows say the
    action did its work (default: the account's own)."""
    changed_rows = changed if changed is not None else target
    statement = select(
        exists(select(target.c.id)).label("found"),
        exists(select(changed_rows.c.id)).label("changed"),
    ).add_cte(target, *writes)
    row = (await db.execute(statement)).one()
    return Outcome(found=bool(row.found), changed=bool(row.changed))


def _audit(entry: AuditEntry, when: ColumnElement[bool]) -> tuple[CTE, CTE]:
    audit_rows, outbox = audit_writes(entry, when=when)
    return audit_rows.cte("audit"), outbox.cte("audit_outbox")


def _end_sessions(
    user_id: uuid.UUID, *, reason: str, now: datetime, when: ColumnElement[bool] | None = None
) -> CTE:
    return (
        update(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            *(() if when is None else (when,)),
        )
        .values(revoked_at=now, revoke_reason=reason)
        .returning(AuthSession.id)
        .cte("ended_sessions")
    )


async def set_active(
    db: AsyncSession, *, user_id: uuid.UUID, active: bool, now: datetime, audit: AuditEntry
) -> Outcome:
    """Enable or disable the account. Disabling ends every live session in the same statement,
    with the app's clock (the database's trigger then finds none left to end); enabling revives
    none (ASVS 7.4.2)."""
    target = (
        update(User)
        .where(User.id == user_id)
        .values(is_active=active, updated_at=now)
        .returning(User.id)
        .cte("target")
    )
    ended = () if active else (_end_sessions(user_id, reason="account_disabled", now=now),)
    return await _run(db, target, *ended, *_audit(audit, exists(select(target.c.id))))


def _account(user_id: uuid.UUID) -> CTE:
    return select(User.id).where(User.id == user_id).cte("target")


async def end_sessions(
    db: AsyncSession, *, user_id: uuid.UUID, now: datetime, audit: AuditEntry
) -> Outcome:
    """End every live session of the account (its refresh and access tokens stop at once)."""
    target = _account(user_id)
    ended = _end_sessions(user_id, reason="admin_logout", now=now)
    return await _run(db, target, ended, *_audit(audit, exists(select(target.c.id))))


async def delete_user(db: AsyncSession, *, user_id: uuid.UUID, audit: AuditEntry) -> Outcome:
    """Delete the account; its sessions and tokens go by ON DELETE CASCADE, its audit rows
    stay (no foreign key: they name it by id only)."""
    target = delete(User).where(User.id == user_id).returning(User.id).cte("target")
    return await _run(db, target, *_audit(audit, exists(select(target.c.id))))


async def reset_mfa(
    db: AsyncSession, *, user_id: uuid.UUID, now: datetime, audit: AuditEntry
) -> Outcome:
    """Remove the account's authenticator (active or half-enrolled) and its recovery codes and
    end every session (only if there was an authenticator: `changed`)."""
    target = _account(user_id)
    factor = (
        delete(MfaFactor)
        .where(MfaFactor.user_id == user_id)
        .returning(MfaFactor.user_id.label("id"))
        .cte("removed_factor")
    )
    codes = delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id).cte("removed_codes")
    when = exists(select(factor.c.id))
    ended = _end_sessions(user_id, reason="admin_mfa_reset", now=now, when=when)
    return await _run(db, target, factor, codes, ended, *_audit(audit, when), changed=factor)


@dataclass(frozen=True)
class VerificationTarget:
    email: str
    is_active: bool
    verified: bool


async def verification_target(db: AsyncSession, *, user_id: uuid.UUID) -> VerificationTarget | None:
    """What a resend of the verification mail needs to know of the account, or None; one
    statement (the throttled enqueue needs the address's HMAC, made from the address)."""
    row = (
        await db.execute(
            select(
                User.email,
                User.is_active,
                User.email_verified_at.is_not(None).label("verified"),
            ).where(User.id == user_id)
        )
    ).first()
    if row is None:
        return None
    return VerificationTarget(
        email=row.email, is_active=bool(row.is_active), verified=bool(row.verified)
    )


async def grant_admin_role(
    db: AsyncSession, *, email: str, now: datetime, audit: AuditEntry
) -> uuid.UUID | None:
    """Give the account with this address the admin role, recorded (admin.role_granted, the
    account's id from the same statement); its id, or None when there is none."""
    target = (
        update(User)
        .where(User.email == email)
        .values(role="admin", updated_at=now)
        .returning(User.id)
        .cte("target")
    )
    entry = AuditEntry(
        type=audit.type,
        now=audit.now,
        user_id=select(target.c.id).scalar_subquery(),
        actor=audit.actor,
        details=audit.details,
        id=audit.id,
    )
    statement = select(target.c.id).add_cte(*_audit(entry, exists(select(target.c.id))))
    found: uuid.UUID | None = await db.scalar(statement)
    return found
