"""The lifecycle flows. Services take the session first; each write is one statement
(lifecycle/statements.py); mail is enqueued in it and notified to the queue after it.

Forgot and resend do the same work for every address (a throttled outbox row keyed by the
address's HMAC, one queue message): which address has an account is only found out by the
mailer, off the request path. No flow signs anyone in.

Each flow's audit row rides in the statement that makes its change (lifecycle/statements.py,
the throttled enqueue), left out on the schema before the audit trail's migration
(`with_audit_fallback`). A forgot request's row names no account: the flow never looks one up
(that is the mailer's, off the request path), so the row is the same for every address.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from authapi.audit.events import EventType
from authapi.audit.record import AuditEntry, audit_writes, with_audit_fallback
from authapi.auth.principal import AuthContext, Principal, authenticate
from authapi.auth.step_up import require_recent_mfa
from authapi.exceptions import (
    EmailTakenError,
    InvalidAccountTokenError,
    SameEmailError,
    TooManyAttemptsError,
    WrongPasswordError,
)
from authapi.lifecycle import statements
from authapi.observability import metrics
from authapi.observability.request_context import current_client_ip
from authapi.outbox import messages
from authapi.outbox.messages import OutboxMessage, submitted_address
from authapi.outbox.notify import OutboxNotifier
from authapi.outbox.throttled import Throttled, enqueue_throttled
from authapi.passwords import normalize_password
from authapi.users import account_tokens
from authapi.users.password_policy import check_password_policy

logger = logging.getLogger(__name__)


def _refused(flow: str, reason: str) -> InvalidAccountTokenError:
    metrics.count(metrics.ACCOUNT_TOKEN_REFUSED)
    logger.warning(
        "account token refused",
        extra={"flow": flow, "reason": reason, "client_ip": current_client_ip.get()},
    )
    return InvalidAccountTokenError()


def _event(
    type: EventType,
    now: datetime,
    principal: Principal | None = None,
    **details: Any,
) -> AuditEntry:
    """An event of the caller (`principal`: their account, session and client), or of whoever
    holds a token (the statement fills in the account it spent the token for)."""
    if principal is None:
        return AuditEntry(type, now=now, details=details)
    claims = principal.claims
    return AuditEntry(
        type,
        now=now,
        user_id=principal.user.id,
        session_id=principal.session_id,
        client_id=claims.client_id if claims is not None else None,
        details=details,
    )


async def _mail_to_address(
    db: AsyncSession,
    ctx: AuthContext,
    notifier: OutboxNotifier,
    message: OutboxMessage,
    *,
    email: str,
    audit: AuditEntry | None = None,
    account_id: uuid.UUID | None = None,
    notice: OutboxMessage | None = None,
) -> None:
    """Enqueue `message` (and `notice`) throttled per address, `audit` in the same statement
    only when it was enqueued (a 429 is counted by the throttle, not audited)."""
    address = submitted_address(ctx.key_ring.data_keys, email)

    def recorded(enqueued: ColumnElement[bool]) -> Sequence[UpdateBase]:
        return () if audit is None else audit_writes(audit, when=enqueued)

    async def enqueue(with_audit: bool) -> Throttled:
        return await enqueue_throttled(
            db,
            ctx.settings,
            message,
            address=address,
            now=ctx.now(),
            account_id=account_id,
            notice=notice,
            along=recorded if with_audit else None,
        )

    throttled = await with_audit_fallback(enqueue)
    if not throttled.enqueued:
        metrics.count(metrics.MAIL_THROTTLED)
        logger.warning("mail throttled for this address", extra={"kind": message.kind})
        raise TooManyAttemptsError(retry_after_seconds=throttled.retry_after_seconds)
    await notifier.notify([message.id] if notice is None else [message.id, notice.id])


async def forgot_password(
    db: AsyncSession, ctx: AuthContext, *, email: str, notifier: OutboxNotifier
) -> None:
    """Queue a reset link for the address, whoever has it (nobody, maybe)."""
    message = OutboxMessage(kind=messages.PASSWORD_RESET, purpose=account_tokens.PASSWORD_RESET)
    audit = _event(EventType.PASSWORD_RESET_REQUESTED, ctx.now())  # no account: see above
    await _mail_to_address(db, ctx, notifier, message, email=email, audit=audit)
    metrics.count(metrics.PASSWORD_RESET_REQUESTED)
    logger.info("password reset requested", extra={"outbox_id": str(message.id)})


async def resend_verification(
    db: AsyncSession, ctx: AuthContext, *, email: str, notifier: OutboxNotifier
) -> None:
    """Queue a new code and link for the address; the mailer sends them only to an account
    with it that is not verified yet."""
    message = OutboxMessage(
        kind=messages.EMAIL_VERIFICATION, purpose=account_tokens.EMAIL_VERIFICATION
    )
    await _mail_to_address(db, ctx, notifier, message, email=email)
    logger.info("email verification resent", extra={"outbox_id": str(message.id)})


async def verify_email(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    token: str | None = None,
    email: str | None = None,
    code: str | None = None,
) -> None:
    now = ctx.now()
    method = "link" if token is not None else "code"
    audit = _event(EventType.EMAIL_VERIFIED, now, method=method)
    if token is not None:
        account_id = await with_audit_fallback(
            lambda recorded: statements.verify_with_token(
                db, token=token, now=now, audit=audit if recorded else None
            )
        )
    elif email is not None and code is not None:
        codes = account_tokens.code_hashes(
            ctx.key_ring.data_keys,
            purpose=account_tokens.EMAIL_VERIFICATION,
            email=email,
            code=code,
        )
        account_id = await with_audit_fallback(
            lambda recorded: statements.verify_with_code(
                db, codes=codes, email=email, now=now, audit=audit if recorded else None
            )
        )
    else:  # the schema refuses this first; this keeps the types honest
        account_id = None
    if account_id is None:
        raise _refused("email_verification", "token" if token is not None else "code")
    metrics.count(metrics.EMAIL_VERIFIED)
    logger.info("email verified", extra={"user_id": str(account_id)})


async def reset_password(
    db: AsyncSession, ctx: AuthContext, *, token: str, new_password: str, notifier: OutboxNotifier
) -> None:
    """Spend the token and set the password; every session ends; nobody is signed in."""
    now = ctx.now()
    password = normalize_password(new_password)
    found = await account_tokens.peek_token(
        db, token, purpose=account_tokens.PASSWORD_RESET, now=now
    )
    if found is None:
        raise _refused("password_reset", "not_live")
    account_id, email, _ = found
    check_password_policy(ctx.settings, password=password, email=email)
    password_hash = await ctx.hashing.hash(password)
    notice = OutboxMessage(kind=messages.PASSWORD_CHANGED, purpose=messages.PASSWORD_CHANGED)
    now = ctx.now()
    audit = _event(EventType.PASSWORD_RESET, now)
    spent_by = await with_audit_fallback(
        lambda recorded: statements.reset_password(
            db,
            token=token,
            password_hash=password_hash,
            notice=notice,
            now=now,
            audit=audit if recorded else None,
        )
    )
    if spent_by is None:  # spent or outdated while the new password was hashed
        raise _refused("password_reset", "spent_meanwhile")
    await notifier.notify([notice.id])
    metrics.count(metrics.PASSWORD_RESET)
    logger.info("password reset; every session ended", extra={"user_id": str(account_id)})


async def _confirmed_principal(
    db: AsyncSession, ctx: AuthContext, *, access_token: str, password: str
) -> Principal:
    """The caller, whose own password has just been given again (a stolen access token alone
    changes nothing) and, for an account with MFA, whose session gave a second factor within
    the step-up window (checked first: no password is hashed for a request refused anyway)."""
    principal = await authenticate(db, ctx, access_token=access_token)
    require_recent_mfa(ctx, principal)
    if not await ctx.hashing.verify(principal.user.password_hash, normalize_password(password)):
        logger.warning(
            "password confirmation failed",
            extra={"user_id": str(principal.user.id), "client_ip": current_client_ip.get()},
        )
        raise WrongPasswordError()
    return principal


async def change_password(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    access_token: str,
    current_password: str,
    new_password: str,
    notifier: OutboxNotifier,
) -> None:
    principal = await _confirmed_principal(
        db, ctx, access_token=access_token, password=current_password
    )
    user = principal.user
    password = normalize_password(new_password)
    check_password_policy(ctx.settings, password=password, email=user.email)
    notice = OutboxMessage(kind=messages.PASSWORD_CHANGED, purpose=messages.PASSWORD_CHANGED)
    password_hash = await ctx.hashing.hash(password)
    now = ctx.now()
    audit = _event(EventType.PASSWORD_CHANGED, now, principal)
    changed = await with_audit_fallback(
        lambda recorded: statements.change_password(
            db,
            account_id=user.id,
            old_hash=user.password_hash,
            password_hash=password_hash,
            keep_session=principal.session_id,
            notice=notice,
            now=now,
            audit=audit if recorded else None,
        )
    )
    if not changed:  # changed by another route since we checked it
        raise WrongPasswordError()
    await notifier.notify([notice.id])
    metrics.count(metrics.PASSWORD_CHANGED)
    logger.info("password changed; other sessions ended", extra={"user_id": str(user.id)})


async def request_email_change(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    access_token: str,
    new_email: str,
    password: str,
    notifier: OutboxNotifier,
) -> None:
    """Send a confirmation to the new address and a notice to the current one; nothing
    changes until the confirmation is used. Whether the new address is free is not said here
    (that would tell a signed-in stranger who has an account): the confirmation decides."""
    principal = await _confirmed_principal(db, ctx, access_token=access_token, password=password)
    user = principal.user
    if new_email == user.email:
        raise SameEmailError()
    message = OutboxMessage(kind=messages.EMAIL_CHANGE, purpose=account_tokens.EMAIL_CHANGE)
    notice = OutboxMessage(kind=messages.EMAIL_CHANGE_NOTICE, purpose=messages.EMAIL_CHANGE_NOTICE)
    audit = _event(EventType.EMAIL_CHANGE_REQUESTED, ctx.now(), principal)
    await _mail_to_address(
        db,
        ctx,
        notifier,
        message,
        email=new_email,
        audit=audit,
        account_id=user.id,
        notice=notice,
    )
    metrics.count(metrics.EMAIL_CHANGE_REQUESTED)
    logger.info("email change requested", extra={"user_id": str(user.id)})


async def confirm_email_change(db: AsyncSession, ctx: AuthContext, *, token: str) -> None:
    now = ctx.now()
    found = await account_tokens.peek_token(db, token, purpose=account_tokens.EMAIL_CHANGE, now=now)
    if found is None or found[2] is None:
        raise _refused("email_change", "not_live")
    account_id, _, new_email = found
    assert new_email is not None  # checked above
    audit = _event(EventType.EMAIL_CHANGED, now)
    try:
        changed = await with_audit_fallback(
            lambda recorded: statements.change_email(
                db, token=token, new_email=new_email, now=now, audit=audit if recorded else None
            )
        )
    except IntegrityError as error:
        # another account registered the address (or one that reads the same) meanwhile
        if "uq_users_email" in str(error.orig):
            raise EmailTakenError() from None
        raise
    if changed is None:
        raise _refused("email_change", "spent_meanwhile")
    metrics.count(metrics.EMAIL_CHANGED)
    logger.info("email changed", extra={"user_id": str(account_id)})


async def delete_account(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    access_token: str,
    password: str,
    notifier: OutboxNotifier,
) -> None:
    principal = await _confirmed_principal(db, ctx, access_token=access_token, password=password)
    user = principal.user
    notice = OutboxMessage(kind=messages.ACCOUNT_DELETED, purpose=messages.ACCOUNT_DELETED)
    address = submitted_address(ctx.key_ring.data_keys, user.email)
    now = ctx.now()
    audit = _event(EventType.ACCOUNT_DELETED, now, principal)
    deleted = await with_audit_fallback(
        lambda recorded: statements.delete_account(
            db,
            account_id=user.id,
            password_hash=user.password_hash,
            notice=notice,
            address=address,
            now=now,
            audit=audit if recorded else None,
        )
    )
    if not deleted:
        raise WrongPasswordError()
    await notifier.notify([notice.id])
    metrics.count(metrics.ACCOUNT_DELETED)
    logger.info("account deleted", extra={"user_id": str(user.id)})
