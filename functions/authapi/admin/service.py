"""The admin flows (issue 17): admin tokens, and what an administrator may do to an account.

An admin token is an access token with `aud` <jwt_audience>:admin (auth/tokens.py), issued only
to an account with the admin role, for its own access token and a code of its second factor
given with the request (never an older step-up), and living at most 15 minutes with no refresh
token (docs/admin.md says why).
Every admin request then checks, in one statement, that the account is still an active admin
with a factor and the session the token came from is still live.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.admin import repository
from authapi.audit import reader, record
from authapi.audit.events import EventType
from authapi.audit.record import AuditEntry, audit_statement, audit_writes
from authapi.auth import mfa_service
from authapi.auth.principal import AuthContext, Principal, log_refused_token
from authapi.auth.step_up import amr_of
from authapi.auth.tokens import AccessTokenClaims, issue_admin_token, verify_admin_token
from authapi.db.expand import names_a_missing_column, names_a_missing_table
from authapi.exceptions import (
    AccountDisabledError,
    AdminRoleRequiredError,
    EmailAlreadyVerifiedError,
    InvalidAccessTokenError,
    MfaEnrolmentRequiredError,
    MfaNotEnrolledError,
    OwnAccountError,
    TooManyAttemptsError,
    UnknownSigningKeyError,
    UserNotFoundError,
)
from authapi.observability import metrics
from authapi.outbox import messages
from authapi.outbox.messages import OutboxMessage, submitted_address
from authapi.outbox.notify import OutboxNotifier
from authapi.outbox.throttled import enqueue_throttled
from authapi.users import account_tokens

logger = logging.getLogger(__name__)

ADMIN_NEEDS_A_FACTOR = (
    "Admin tokens are issued only after a second factor: enrol an authenticator "
    "(POST /api/v1/auth/mfa/totp, then /api/v1/auth/mfa/totp/verify) first."
)


@dataclass(frozen=True)
class AdminToken:
    access_token: str
    expires_in: int


@dataclass(frozen=True)
class AdminPrincipal:
    """The administrator behind a verified admin token, checked live by this request."""

    user_id: uuid.UUID
    session_id: uuid.UUID


def _refuse_role(user_id: uuid.UUID) -> AdminRoleRequiredError:
    logger.warning("admin refused: not an administrator", extra={"user_id": str(user_id)})
    return AdminRoleRequiredError()


async def check_applicant(db: AsyncSession, ctx: AuthContext, *, principal: Principal) -> None:
    """The caller of an end-user access token may ask for an admin token: the account is an
    active admin with a second factor, and the session still live (one statement); else the
    403 (or the 401 of a session ended since the token was checked)."""
    try:
        caller = await repository.find_caller(
            db, user_id=principal.user.id, session_id=principal.session_id, now=ctx.now()
        )
    except ProgrammingError as error:
        # the schema before migration 0012: no role, no audit trail, so no administrator yet
        if not (names_a_missing_column(error) or names_a_missing_table(error)):
            raise
        raise _refuse_role(principal.user.id) from None
    if caller is None:
        log_refused_token("access", reason="session_ended", session_id=principal.session_id)
        raise InvalidAccessTokenError()
    if not caller.is_admin:
        raise _refuse_role(caller.user_id)
    if not caller.has_factor:
        raise MfaEnrolmentRequiredError(ADMIN_NEEDS_A_FACTOR)


async def issue_token(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    applicant: Principal,
    given: mfa_service.SecondFactor,
    client: str,
) -> AdminToken:
    """An admin token for an applicant (`check_applicant`) whose `given` factor is a code given
    now: a current TOTP code (never one already accepted) or an unused recovery code; the issue
    is recorded (admin.token_issued, with the method)."""
    now = ctx.now()
    # the end-user step-up's own check: counted in the login throttles, a TOTP step accepted
    # once only, a recovery code spent; a wrong or replayed code is 401 invalid_mfa_code. The
    # session is stepped up with it (mfa.step_up), as the factor was given in it now.
    await mfa_service.step_up(db, ctx, principal=applicant, given=given, client=client)
    method, amr_value = ("totp", "otp") if given.code is not None else ("recovery_code",) * 2
    client_id = applicant.claims.client_id if applicant.claims is not None else None
    # recorded before the token exists: an admin token is never issued unrecorded
    await db.execute(
        audit_statement(
            AuditEntry(
                EventType.ADMIN_TOKEN_ISSUED,
                now=now,
                user_id=applicant.user.id,
                actor=record.admin(applicant.user.id),
                session_id=applicant.session_id,
                client_id=client_id,
                details={"method": method},
            )
        )
    )
    amr = tuple(dict.fromkeys(("pwd", *amr_of(applicant), amr_value)))
    token = issue_admin_token(
        ctx.key_ring,
        ctx.settings,
        user_id=applicant.user.id,
        session_id=applicant.session_id,
        now=now,
        amr=amr,
        mfa_at=now,
        client_id=client_id,
    )
    logger.warning(
        "admin token issued", extra={"user_id": str(applicant.user.id), "method": method}
    )
    return AdminToken(access_token=token, expires_in=ctx.settings.admin_token_ttl_seconds)


async def _admin_claims(ctx: AuthContext, admin_token: str) -> AccessTokenClaims:
    try:
        try:
            return verify_admin_token(ctx.key_ring, ctx.settings, admin_token, now=ctx.now())
        except UnknownSigningKeyError:
            ring = await ctx.key_provider.reload()  # a key rotated in since our last read
            return verify_admin_token(ring, ctx.settings, admin_token, now=ctx.now())
    except InvalidAccessTokenError:
        log_refused_token("admin", reason="invalid")
        raise


async def authenticate(db: AsyncSession, ctx: AuthContext, *, admin_token: str) -> AdminPrincipal:
    """The administrator behind an admin token: 401 for a token that is not one (or whose
    session ended, or whose account is disabled), 403 for a valid end-user token or an account
    that is no longer an admin (or lost its second factor)."""
    claims = await _admin_claims(ctx, admin_token)
    try:
        caller = await repository.find_caller(
            db, user_id=claims.user_id, session_id=claims.session_id, now=ctx.now()
        )
    except ProgrammingError as error:
        if not (names_a_missing_column(error) or names_a_missing_table(error)):
            raise
        raise _refuse_role(claims.user_id) from None
    if caller is None:
        log_refused_token("admin", reason="session_ended", session_id=claims.session_id)
        raise InvalidAccessTokenError()
    if not caller.is_admin:
        raise _refuse_role(caller.user_id)
    if not caller.has_factor:
        raise MfaEnrolmentRequiredError(ADMIN_NEEDS_A_FACTOR)
    return AdminPrincipal(user_id=caller.user_id, session_id=claims.session_id)


# -- actions on accounts


def _entry(
    ctx: AuthContext, admin: AdminPrincipal, kind: EventType, user_id: uuid.UUID
) -> AuditEntry:
    return AuditEntry(kind, now=ctx.now(), user_id=user_id, actor=record.admin(admin.user_id))


def _not_self(admin: AdminPrincipal, user_id: uuid.UUID) -> None:
    if admin.user_id == user_id:
        raise OwnAccountError()


def _done(
    outcome: repository.Outcome, action: str, admin: AdminPrincipal, user_id: uuid.UUID
) -> None:
    if not outcome.found:
        raise UserNotFoundError()
    logger.warning(
        f"admin: {action}", extra={"user_id": str(user_id), "admin_id": str(admin.user_id)}
    )


# -- reads, each recorded by the statement that reads (the names of the filters used, never
# their values: an email prefix is an email's start, and audit rows hold no email)


def _read(
    ctx: AuthContext, admin: AdminPrincipal, kind: EventType, **details: object
) -> AuditEntry:
    return AuditEntry(kind, now=ctx.now(), actor=record.admin(admin.user_id), details=details)


def _given(filters: dict[str, object]) -> list[str]:
    """The names (query parameters') of the filters given, never their values."""
    return [name for name, value in filters.items() if value not in (None, (), "")]


def _user_filters(filters: repository.UserFilter) -> list[str]:
    return _given(
        {
            "email": filters.email_prefix,
            "created_after": filters.created_after,
            "created_before": filters.created_before,
            "status": filters.status,
        }
    )


def _event_filters(filters: reader.EventFilter) -> list[str]:
    return _given(
        {
            "user_id": filters.user_id,
            "type": tuple(filters.types),
            "actor_kind": filters.actor_kind,
            "actor_id": filters.actor_id,
            "since": filters.since,
            "until": filters.until,
        }
    )


async def list_users(
    db: AsyncSession,
    ctx: AuthContext,
    admin: AdminPrincipal,
    *,
    filters: repository.UserFilter,
    cursor: str | None,
    limit: int,
) -> repository.UserPage:
    """A page of accounts, recorded as admin.users_listed."""
    entry = _read(
        ctx, admin, EventType.ADMIN_USERS_LISTED, filters=_user_filters(filters), limit=limit
    )
    return await repository.list_users(db, filters=filters, cursor=cursor, limit=limit, audit=entry)


async def get_user(
    db: AsyncSession, ctx: AuthContext, admin: AdminPrincipal, *, user_id: uuid.UUID
) -> repository.UserRow:
    """One account, recorded as admin.user_viewed (about that account); 404 records nothing."""
    entry = _entry(ctx, admin, EventType.ADMIN_USER_VIEWED, user_id)
    found = await repository.get_user(db, user_id=user_id, audit=entry)
    if found is None:
        raise UserNotFoundError()
    return found


async def list_events(
    db: AsyncSession,
    ctx: AuthContext,
    admin: AdminPrincipal,
    *,
    filters: reader.EventFilter,
    cursor: str | None,
    limit: int,
) -> reader.EventPage:
    """A page of the audit trail, recorded as admin.events_read."""
    entry = _read(
        ctx, admin, EventType.ADMIN_EVENTS_READ, filters=_event_filters(filters), limit=limit
    )
    return await reader.list_events(db, filters=filters, cursor=cursor, limit=limit, record=entry)


async def set_active(
    db: AsyncSession, ctx: AuthContext, admin: AdminPrincipal, *, user_id: uuid.UUID, active: bool
) -> None:
    """Enable or disable the account; disabling ends every session in the same statement."""
    if not active:
        _not_self(admin, user_id)
    kind = EventType.ADMIN_USER_ENABLED if active else EventType.ADMIN_USER_DISABLED
    outcome = await repository.set_active(
        db, user_id=user_id, active=active, now=ctx.now(), audit=_entry(ctx, admin, kind, user_id)
    )
    _done(outcome, "account enabled" if active else "account disabled", admin, user_id)


async def log_out(
    db: AsyncSession, ctx: AuthContext, admin: AdminPrincipal, *, user_id: uuid.UUID
) -> None:
    entry = _entry(ctx, admin, EventType.ADMIN_USER_LOGGED_OUT, user_id)
    outcome = await repository.end_sessions(db, user_id=user_id, now=ctx.now(), audit=entry)
    _done(outcome, "every session ended", admin, user_id)


async def delete_user(
    db: AsyncSession, ctx: AuthContext, admin: AdminPrincipal, *, user_id: uuid.UUID
) -> None:
    _not_self(admin, user_id)
    entry = _entry(ctx, admin, EventType.ADMIN_USER_DELETED, user_id)
    outcome = await repository.delete_user(db, user_id=user_id, audit=entry)
    _done(outcome, "account deleted", admin, user_id)


async def reset_mfa(
    db: AsyncSession, ctx: AuthContext, admin: AdminPrincipal, *, user_id: uuid.UUID
) -> None:
    """Remove the authenticator and recovery codes and end every session: 409 if none."""
    _not_self(admin, user_id)
    entry = _entry(ctx, admin, EventType.ADMIN_MFA_RESET, user_id)
    outcome = await repository.reset_mfa(db, user_id=user_id, now=ctx.now(), audit=entry)
    _done(outcome, "MFA reset", admin, user_id)
    if not outcome.changed:
        raise MfaNotEnrolledError()


async def resend_verification(
    db: AsyncSession,
    ctx: AuthContext,
    admin: AdminPrincipal,
    *,
    user_id: uuid.UUID,
    notifier: OutboxNotifier,
) -> None:
    """Queue a new verification code and link for an active, unverified account, throttled per
    address like every mail to an address (outbox/throttled.py): an administrator cannot flood
    an inbox either, and gets the user-facing resend's 429 when the address had its share."""
    now = ctx.now()
    target = await repository.verification_target(db, user_id=user_id)
    if target is None:
        raise UserNotFoundError()
    if not target.is_active:
        raise AccountDisabledError()
    if target.verified:
        raise EmailAlreadyVerifiedError()
    message = OutboxMessage(
        kind=messages.EMAIL_VERIFICATION, purpose=account_tokens.EMAIL_VERIFICATION
    )
    entry = AuditEntry(
        EventType.ADMIN_VERIFICATION_RESENT,
        now=now,
        user_id=user_id,
        actor=record.admin(admin.user_id),
        details={"outbox_id": str(message.id)},
    )
    # recorded only when queued: a 429 is counted (by the throttle's own rows), not audited.
    # The account may be verified or disabled between the two statements: the mailer checks
    # both again when it sends (a resend for an account verified meanwhile sends nothing).
    throttled = await enqueue_throttled(
        db,
        ctx.settings,
        message,
        address=submitted_address(ctx.key_ring.data_keys, target.email),
        now=now,
        account_id=user_id,
        along=lambda queued: audit_writes(entry, when=queued),
    )
    if not throttled.enqueued:
        metrics.count(metrics.MAIL_THROTTLED)
        logger.warning(
            "admin: verification resend throttled for this address",
            extra={"user_id": str(user_id), "admin_id": str(admin.user_id)},
        )
        raise TooManyAttemptsError(retry_after_seconds=throttled.retry_after_seconds)
    await notifier.notify([message.id])
    logger.warning(
        "admin: verification resent",
        extra={"user_id": str(user_id), "admin_id": str(admin.user_id)},
    )
