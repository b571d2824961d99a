"""The lifecycle's writes, each one statement: spend a token or code, and everything that
spending it causes (the password or email, the sessions it ends, the notice it sends, and its
audit row: `audit`, recorded only when the statement made the change, for the account it made
it to; None on the schema before the audit trail's migration)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime

from sqlalchemy import CTE, ColumnElement, Select, delete, exists, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.audit.record import AuditEntry, audit_writes
from authapi.models import AuthSession, User
from authapi.outbox.messages import OutboxMessage, SubmittedAddress, enqueue_when
from authapi.users import account_tokens
from authapi.users.confusables import skeleton


def _of(spent: CTE) -> Select[tuple[uuid.UUID]]:
    return select(spent.c.account_id)


def _verified(now: datetime) -> ColumnElement[datetime]:
    return func.coalesce(User.email_verified_at, literal(now))


def _recorded(audit: AuditEntry | None, changed: CTE) -> tuple[CTE, ...]:
    """The audit row (and its outbox row) of the change `changed` made, for its account; none
    when it matched no row (a token spent meanwhile, a password changed by another route)."""
    if audit is None:
        return ()
    account = select(changed.c.account_id).limit(1).scalar_subquery()
    writes = audit_writes(
        replace(audit, user_id=account), when=exists(select(changed.c.account_id))
    )
    return tuple(write.cte(f"audit_{index}") for index, write in enumerate(writes))


async def _run(db: AsyncSession, first: CTE, *writes: CTE) -> list[uuid.UUID]:
    rows = await db.execute(select(first.c.account_id).add_cte(*writes))
    return [row[0] for row in rows]


def _verify(account_ids: Select[tuple[uuid.UUID]], now: datetime) -> CTE:
    return (
        update(User)
        .where(User.id.in_(account_ids))
        .values(email_verified_at=_verified(now))
        .returning(User.id.label("account_id"))
        .cte("verified")
    )


async def verify_with_token(
    db: AsyncSession, *, token: str, now: datetime, audit: AuditEntry | None = None
) -> uuid.UUID | None:
    spent = account_tokens.spend_token(token, purpose=account_tokens.EMAIL_VERIFICATION, now=now)
    verified = _verify(_of(spent), now)
    found = await _run(db, spent, verified, *_recorded(audit, verified))
    return found[0] if found else None


async def verify_with_code(
    db: AsyncSession,
    *,
    codes: list[bytes],
    email: str,
    now: datetime,
    audit: AuditEntry | None = None,
) -> uuid.UUID | None:
    """One try of the code (counted whether or not it matches); the account it verified."""
    tried = account_tokens.try_code(
        codes, email=email, purpose=account_tokens.EMAIL_VERIFICATION, now=now
    )
    verified = _verify(select(tried.c.account_id).where(tried.c.matched), now)
    rows = await db.execute(
        select(tried.c.account_id, tried.c.matched).add_cte(verified, *_recorded(audit, verified))
    )
    for account_id, matched in rows:
        if matched:
            return account_id  # type: ignore[no-any-return]
    return None


def _end_sessions(
    spent_or_changed: CTE, *, reason: str, now: datetime, keep: uuid.UUID | None = None
) -> CTE:
    conditions: list[ColumnElement[bool]] = [
        AuthSession.user_id.in_(_of(spent_or_changed)),
        AuthSession.revoked_at.is_(None),
    ]
    if keep is not None:
        conditions.append(AuthSession.id != keep)
    return (
        update(AuthSession)
        .where(*conditions)
        .values(revoked_at=now, revoke_reason=reason)
        .cte("ended_sessions")
    )


def _notice(message: OutboxMessage, source: CTE, now: datetime) -> CTE:
    return enqueue_when(
        message,
        now=now,
        account_id=select(source.c.account_id).scalar_subquery(),
        when=exists(select(source.c.account_id)),
    ).cte("notice")


async def reset_password(
    db: AsyncSession,
    *,
    token: str,
    password_hash: str,
    notice: OutboxMessage,
    now: datetime,
    audit: AuditEntry | None = None,
) -> uuid.UUID | None:
    """Spend the reset token, set the password, end every session, enqueue the notice. The
    reset also proves the mailbox is the account's: its email counts as verified."""
    spent = account_tokens.spend_token(token, purpose=account_tokens.PASSWORD_RESET, now=now)
    changed = (
        update(User)
        .where(User.id.in_(_of(spent)))
        .values(password_hash=password_hash, updated_at=now, email_verified_at=_verified(now))
        .returning(User.id.label("account_id"))
        .cte("changed")
    )
    found = await _run(
        db,
        spent,
        changed,
        _end_sessions(spent, reason="password_reset", now=now),
        _notice(notice, spent, now),
        *_recorded(audit, changed),
    )
    return found[0] if found else None


async def change_password(
    db: AsyncSession,
    *,
    account_id: uuid.UUID,
    old_hash: str,
    password_hash: str,
    keep_session: uuid.UUID,
    notice: OutboxMessage,
    now: datetime,
    audit: AuditEntry | None = None,
) -> bool:
    """Set the password if it is still the one just checked; end every other session."""
    changed = (
        update(User)
        .where(User.id == account_id, User.password_hash == old_hash, User.is_active.is_(True))
        .values(password_hash=password_hash, updated_at=now)
        .returning(User.id.label("account_id"))
        .cte("changed")
    )
    found = await _run(
        db,
        changed,
        _end_sessions(changed, reason="password_changed", now=now, keep=keep_session),
        _notice(notice, changed, now),
        *_recorded(audit, changed),
    )
    return bool(found)


async def change_email(
    db: AsyncSession,
    *,
    token: str,
    new_email: str,
    now: datetime,
    audit: AuditEntry | None = None,
) -> uuid.UUID | None:
    """Spend the email change token and set the new address (verified: the token came through
    it). The unique constraints decide, now, whether it is free (IntegrityError if not)."""
    spent = account_tokens.spend_token(token, purpose=account_tokens.EMAIL_CHANGE, now=now)
    changed = (
        update(User)
        .where(User.id.in_(select(spent.c.account_id).where(spent.c.new_email == new_email)))
        .values(
            email=new_email,
            email_skeleton=skeleton(new_email),
            email_verified_at=now,
            updated_at=now,
        )
        .returning(User.id.label("account_id"))
        .cte("changed")
    )
    found = await _run(db, spent, changed, *_recorded(audit, changed))
    return found[0] if found else None


async def delete_account(
    db: AsyncSession,
    *,
    account_id: uuid.UUID,
    password_hash: str,
    notice: OutboxMessage,
    address: SubmittedAddress,
    now: datetime,
    audit: AuditEntry | None = None,
) -> bool:
    """Delete the account (its sessions, refresh, device and lifecycle tokens go with it, by
    ON DELETE CASCADE) if its password is still the one just checked; the notice goes to the
    sealed address, since no account is left to resolve. The audit row stays (it has no
    foreign key to the account)."""
    deleted = (
        delete(User)
        .where(User.id == account_id, User.password_hash == password_hash)
        .returning(User.id.label("account_id"))
        .cte("deleted")
    )
    notified = enqueue_when(
        notice, now=now, address=address, when=exists(select(deleted.c.account_id))
    ).cte("notice")
    return bool(await _run(db, deleted, notified, *_recorded(audit, deleted)))
