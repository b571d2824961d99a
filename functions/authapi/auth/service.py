"""The auth flows: register, login, refresh, logout. Who a bearer token belongs to:
authapi.auth.principal."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from authapi.abuse import login_throttle
from authapi.audit.events import EventType
from authapi.audit.record import (
    SERVICE,
    AuditEntry,
    audit_writes,
    with_audit_fallback,
)
from authapi.auth import refresh_repository, repository, session_repository
from authapi.auth.lockout_notice import lockout_notice
from authapi.auth.principal import AuthContext, log_refused_token, verified_claims
from authapi.auth.second_factor import SecondFactorPolicy
from authapi.auth.session_origin import SessionOrigin
from authapi.auth.tokens import (
    SECOND_FACTORS,
    hash_device_token,
    hash_refresh_token,
    issue_access_token,
    new_device_token,
    new_refresh_token,
    successor_refresh_tokens,
)
from authapi.db.chained_writes import chained_writes
from authapi.db.expand import names_a_missing_table
from authapi.db.session import independent_write
from authapi.exceptions import (
    EmailNotVerifiedError,
    EmailTakenError,
    InvalidAccessTokenError,
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    MfaRequiredError,
    RefreshInProgressError,
    RefreshTokenReusedError,
)
from authapi.mfa import repository as mfa_repository
from authapi.mfa.challenges import hash_challenge_token, new_challenge_token
from authapi.models import User
from authapi.observability import metrics
from authapi.observability.request_context import current_client_ip
from authapi.outbox.messages import OutboxMessage, enqueue
from authapi.passwords import normalize_password
from authapi.users import repository as users
from authapi.users.password_policy import check_password_policy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class SignedIn:
    user: User | users.NewUser  # the account loaded at login, or the one registration wrote
    tokens: TokenPair
    device_token: str  # exempts this device from the account-wide login slow-down


@dataclass(frozen=True)
class Registered:
    """An account registered without a session: AUTHAPI_REQUIRE_VERIFIED_EMAIL is on."""

    user: users.NewUser


@dataclass(frozen=True)
class ChallengeIssued:
    """A correct password of an MFA account: no tokens yet, a challenge to answer with a code."""

    challenge: str
    expires_in: int


def token_pair(
    ctx: AuthContext,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    auth_time: datetime,
    refresh_token: str,
    client_id: str,
    email_verified: bool | None = None,
    amr: tuple[str, ...] = ("pwd",),
    mfa_at: datetime | None = None,
) -> TokenPair:
    """The pair a sign-in or refresh answers; with AUTHAPI_MFA_REQUIRED, an access token of a
    session without a second factor (`amr`) is enrol-only (a refresh never upgrades it)."""
    enrol_only = ctx.settings.mfa_required and not SECOND_FACTORS.intersection(amr)
    access_token = issue_access_token(
        ctx.key_ring,
        ctx.settings,
        user_id=user_id,
        session_id=session_id,
        auth_time=auth_time,
        now=ctx.now(),
        client_id=client_id,
        email_verified=email_verified,
        amr=amr,
        mfa_at=mfa_at,
        enrol_only=enrol_only,
    )
    return TokenPair(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=ctx.settings.access_token_ttl_seconds,
    )


def new_device_token_row(
    ctx: AuthContext, *, user_id: uuid.UUID, now: datetime
) -> tuple[repository.NewDeviceToken, str]:
    token = new_device_token()
    row = repository.NewDeviceToken(
        token_hash=hash_device_token(token),
        user_id=user_id,
        expires_at=now + timedelta(days=ctx.settings.device_token_ttl_days),
        now=now,
    )
    return row, token


def new_session(
    ctx: AuthContext,
    *,
    user_id: uuid.UUID,
    origin: SessionOrigin,
    now: datetime,
    client_id: str,
) -> tuple[repository.NewSession, str]:
    settings = ctx.settings
    refresh_token = new_refresh_token()
    session_expires_at = now + timedelta(seconds=settings.session_max_age_seconds)
    token_expires_at = min(
        now + timedelta(seconds=settings.refresh_token_ttl_seconds), session_expires_at
    )
    session = repository.NewSession(
        session_id=uuid.uuid4(),
        user_id=user_id,
        session_expires_at=session_expires_at,
        token_hash=hash_refresh_token(refresh_token),
        token_expires_at=token_expires_at,
        now=now,
        origin=origin,
        client_id=client_id,
    )
    return session, refresh_token


async def _write_registration(
    ctx: AuthContext,
    db: AsyncSession,
    user: users.NewUser,
    mail: tuple[UpdateBase, ...],
    session: repository.NewSession,
    device: repository.NewDeviceToken,
    registered: AuditEntry,
) -> None:
    if ctx.settings.require_verified_email:

        async def write(with_audit: bool) -> None:
            audit = audit_writes(registered) if with_audit else ()
            await db.execute(chained_writes(user.insert(), *mail, *audit))

        await with_audit_fallback(write)
    else:
        # user, session, first refresh token, device token, the verification mail and the
        # audit row in one statement: all or none
        await repository.create_session(
            db,
            session=session,
            alongside=(user.insert(), *mail, device.insert()),
            audit=audit_writes(registered),
        )


async def register(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    email: str,
    password: str,
    origin: SessionOrigin,
    verification: OutboxMessage | None = None,
) -> SignedIn | Registered:
    """Create the account and its first session. `email` is already validated and normalized.

    `verification`: the verification mail, enqueued in the same statement (the caller notifies
    the queue). With AUTHAPI_REQUIRE_VERIFIED_EMAIL on, no session: the account, the mail.
    """
    password = normalize_password(password)
    check_password_policy(ctx.settings, password=password, email=email)
    now = ctx.now()
    user = users.NewUser(
        id=uuid.uuid4(), email=email, password_hash=await ctx.hashing.hash(password), created_at=now
    )
    mail: tuple[UpdateBase, ...] = (
        () if verification is None else (enqueue(verification, now=now, account_id=user.id),)
    )
    client_id = ctx.settings.default_client_id  # registration is the JSON API's
    session, refresh_token = new_session(
        ctx, user_id=user.id, origin=origin, now=now, client_id=client_id
    )
    device, device_token = new_device_token_row(ctx, user_id=user.id, now=now)
    signs_in = not ctx.settings.require_verified_email
    registered = AuditEntry(
        EventType.ACCOUNT_REGISTERED,
        now=now,
        user_id=user.id,
        session_id=session.session_id if signs_in else None,
        client_id=client_id,
        details={"signed_in": signs_in},
    )
    try:
        try:
            await _write_registration(ctx, db, user, mail, session, device, registered)
        except ProgrammingError as error:
            # a schema without the outbox (a deploy under way from before it): refused at
            # parse, nothing written; the account without its verification mail
            if not (mail and names_a_missing_table(error)):
                raise
            await _write_registration(ctx, db, user, (), session, device, registered)
    except IntegrityError as error:
        # the address itself, or one that reads the same (its skeleton): either is taken
        if "uq_users_email" in str(error.orig):
            raise EmailTakenError() from None
        raise
    metrics.count(metrics.USER_REGISTERED)
    logger.info("user registered", extra={"user_id": str(user.id)})
    if ctx.settings.require_verified_email:
        return Registered(user=user)
    tokens = token_pair(
        ctx,
        user_id=user.id,
        session_id=session.session_id,
        auth_time=session.now,
        refresh_token=refresh_token,
        client_id=client_id,
        email_verified=False,
    )
    return SignedIn(user=user, tokens=tokens, device_token=device_token)


@dataclass(frozen=True)
class _LoginFailure:
    """What a refused sign-in's audit row says besides why (never the address it tried)."""

    now: datetime
    client_id: str
    locked: bool  # this attempt set the pair's lock

    async def record(self, db: AsyncSession, *, user_id: uuid.UUID | None, reason: str) -> None:
        details: dict[str, object] = {"reason": reason}
        if self.locked:
            details["locked"] = True
        entry = AuditEntry(
            EventType.LOGIN_FAILED,
            now=self.now,
            user_id=user_id,
            client_id=self.client_id,
            details=details,
        )
        # one statement after the password check (its outcome is known only then), on every
        # refusal alike; it must stand although the request then fails
        async with independent_write(db):
            await repository.record_event(db, entry)


async def login(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    email: str,
    password: str,
    client: str,
    origin: SessionOrigin,
    device_token: str | None = None,
    client_id: str | None = None,
    second_factor: SecondFactorPolicy | None = None,
) -> SignedIn | ChallengeIssued:
    """Check the password and open a new session, unless the throttles refuse the attempt; for
    an account with a second factor, open an MFA challenge instead (`ChallengeIssued`).

    The attempt is counted (and committed) before the password is checked, and the hash is
    checked with no transaction open: a slow argon2 holds no lock and no idle transaction.

    Args:
        client_id: the client signing in (the OAuth password grant's); the JSON API's if None.
        second_factor: after a correct password, whether this user must be refused for want
            of another factor (the OAuth password grant, which cannot carry one).
    """
    client_id = client_id or ctx.settings.default_client_id
    password = normalize_password(password)
    now = ctx.now()
    settings, data_keys = ctx.settings, ctx.key_ring.data_keys
    keys = login_throttle.login_keys(data_keys, email=email, client=client)
    presented = hash_device_token(device_token) if device_token else None
    security = {"account": login_throttle.account_log_id(data_keys, email), "client_ip": client}
    async with independent_write(db):
        attempt = await repository.record_login_attempt(
            db,
            email=email,
            device_token_hash=presented,
            count=lambda trusted: login_throttle.count_attempt(
                keys, settings, now=now, device_trusted=trusted
            ),
            now=now,
            notice=lockout_notice(settings, email=email, now=now),
        )
    if not attempt.allowed:
        metrics.count(metrics.TOO_MANY_ATTEMPTS)
        layer = "account" if attempt.refused_by_account else "account_client"
        logger.warning("login refused: throttled", extra={**security, "reason": layer})
        raise login_throttle.refusal(
            settings,
            refused_by_account=attempt.refused_by_account,
            locked_until=attempt.locked_until,
            now=now,
        )
    locked = attempt.failures is not None and attempt.failures >= settings.login_max_failures
    if locked:
        # this attempt set the pair's lock: the next ones wait, whatever this password is
        metrics.count(metrics.ACCOUNT_LOCKED)
        logger.warning("account.locked", extra={**security, "failures": attempt.failures})
    failed = _LoginFailure(now=now, client_id=client_id, locked=locked)
    user = attempt.user
    if user is None:
        # constant-time path: unknown emails still run one hash verify
        await ctx.hashing.verify_dummy(password)
        reason: str | None = "unknown_account"
    elif not await ctx.hashing.verify(user.password_hash, password):
        reason = "wrong_password"
    else:
        # a disabled account answers exactly as a wrong password, and its attempt counts too
        reason = None if user.is_active else "account_disabled"
    if reason is not None or user is None:
        metrics.count(metrics.LOGIN_FAILED)
        logger.warning("login failed", extra={**security, "reason": reason})
        await failed.record(
            db, user_id=None if user is None else user.id, reason=reason or "unknown_account"
        )
        raise InvalidCredentialsError()
    verified = users.email_verified(user)
    if settings.require_verified_email and not verified:
        # only now, after the right password: the refusal tells nobody else the account exists
        logger.warning("login refused: email not verified", extra=security)
        await failed.record(db, user_id=user.id, reason="email_not_verified")
        raise EmailNotVerifiedError()
    # with AUTHAPI_MFA_REQUIRED every account needs a factor: one without it must enrol first,
    # which a way of signing in that cannot take a factor cannot offer either
    needs_factor = attempt.has_mfa or settings.mfa_required
    if second_factor is not None and second_factor(user, has_factor=needs_factor):
        # a correct password, and an answer the user can act on (CONVENTIONS.md); the attempt
        # stays counted: it opened no session
        logger.info("login needs a second factor", extra={"user_id": str(user.id)})
        await failed.record(db, user_id=user.id, reason="mfa_required")
        raise MfaRequiredError()
    if attempt.has_mfa:
        # the password was right: its account-wide attempt goes back now (the challenge's answer
        # cannot tell whether a trusted device spared it); the pair stays counted until a code
        # answers the challenge (a code is a password's equal in the throttles)
        given_back = login_throttle.after_first_factor(
            keys, settings, now=now, account_counted=attempt.account_counted
        )
        return await _open_challenge(
            db,
            ctx,
            user=user,
            origin=origin,
            client_id=client_id,
            device_trusted=attempt.device_trusted,
            alongside=given_back,
        )
    session, refresh_token = new_session(
        ctx, user_id=user.id, origin=origin, now=now, client_id=client_id
    )
    device, new_device = new_device_token_row(ctx, user_id=user.id, now=now)
    writes: list[UpdateBase] = [
        *login_throttle.after_success(
            keys, settings, now=now, account_counted=attempt.account_counted
        ),
        device.insert(),
    ]
    if presented is not None and attempt.device_trusted:
        writes.append(repository.forget_device_token(presented))  # replaced by the new one
    if ctx.hashing.needs_rehash(user.password_hash):
        # cost parameters changed since this hash was made: upgrade it while we hold the password
        rehashed = await ctx.hashing.hash(password)
        writes.append(users.set_password_hash(user_id=user.id, password_hash=rehashed, now=now))
    succeeded = AuditEntry(
        EventType.LOGIN_SUCCEEDED,
        now=now,
        user_id=user.id,
        session_id=session.session_id,
        client_id=client_id,
        # new_device: no valid device token came with it (what a "new sign-in" notice keys on)
        details={"method": "password", "amr": ["pwd"], "new_device": not attempt.device_trusted},
    )
    await repository.create_session(
        db, session=session, alongside=tuple(writes), audit=audit_writes(succeeded)
    )
    metrics.count(metrics.LOGIN_SUCCEEDED)
    logger.info("login succeeded", extra={"user_id": str(user.id)})
    tokens = token_pair(
        ctx,
        user_id=user.id,
        session_id=session.session_id,
        auth_time=session.now,
        refresh_token=refresh_token,
        client_id=client_id,
        email_verified=verified,
    )
    return SignedIn(user=user, tokens=tokens, device_token=new_device)


async def _open_challenge(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    user: User,
    origin: SessionOrigin,
    client_id: str,
    device_trusted: bool,
    alongside: Sequence[UpdateBase] = (),
) -> ChallengeIssued:
    now = ctx.now()
    # the token carries this step's device check to the answer's login.succeeded
    token = new_challenge_token(device_trusted=device_trusted)
    lifetime = ctx.settings.mfa_challenge_seconds
    challenge = mfa_repository.NewChallenge(
        token_hash=hash_challenge_token(token),
        user_id=user.id,
        client_id=client_id,
        user_agent=origin.user_agent,
        ip=origin.ip,
        now=now,
        expires_at=now + timedelta(seconds=lifetime),
    )
    challenged = AuditEntry(
        EventType.LOGIN_CHALLENGED,
        now=now,
        user_id=user.id,
        client_id=client_id,
        details={"method": "password", "amr": ["pwd"]},
    )

    async def write(with_audit: bool) -> None:
        audit = audit_writes(challenged) if with_audit else ()
        await db.execute(chained_writes(*alongside, *audit, challenge.insert()))

    # the challenge and its audit row in one statement (none before the audit trail's schema)
    await with_audit_fallback(write)
    logger.info("login needs a second factor: challenge opened", extra={"user_id": str(user.id)})
    return ChallengeIssued(challenge=token, expires_in=lifetime)


async def refresh(
    db: AsyncSession, ctx: AuthContext, *, refresh_token: str, client_id: str | None = None
) -> TokenPair:
    """Exchange a refresh token for a new pair. Its immediate predecessor, presented again within
    the reuse interval, gets that same pair's refresh token (two tabs, a lost response); any
    other spent token is reuse, and revokes its session. A token of another client's session
    (`client_id`: the OAuth client presenting it; the JSON API's if None) is refused as unknown,
    spending and revoking nothing (RFC 6749 section 6)."""
    now = ctx.now()
    settings = ctx.settings
    client = refresh_repository.PresentingClient(
        client_id=client_id or settings.default_client_id,
        default_client_id=settings.default_client_id,
    )
    token_hash = hash_refresh_token(refresh_token)
    successors = successor_refresh_tokens(ctx.key_ring.data_keys, refresh_token)
    key_id, successor = next(iter(successors.items()))  # the current data key's
    if settings.require_verified_email and await refresh_repository.unverified_account_holds(
        db, token_hash=token_hash, client=client
    ):
        # one statement more, only with the setting on; nothing spent, nothing revoked
        log_refused_token("refresh", reason="email_not_verified")
        raise EmailNotVerifiedError()
    try:
        rotation = await refresh_repository.rotate_refresh_token(
            db,
            token_hash=token_hash,
            successor=refresh_repository.Successor(
                token_hash=hash_refresh_token(successor),
                key_id=key_id,
                expires_at=now + timedelta(seconds=settings.refresh_token_ttl_seconds),
            ),
            now=now,
            lock_timeout_ms=settings.refresh_lock_timeout_ms,
            client=client,
        )
    except RefreshInProgressError:
        # the session's rows stayed locked past the timeout: nothing was spent, nothing revoked
        metrics.count(metrics.REFRESH_IN_PROGRESS)
        logger.warning("refresh waited too long for a concurrent one", extra=_client())
        raise
    if rotation is not None:
        metrics.count(metrics.TOKEN_REFRESHED)
        return token_pair(
            ctx,
            user_id=rotation.user_id,
            session_id=rotation.session_id,
            auth_time=rotation.session_created_at,  # the sign-in that opened the session
            refresh_token=successor,
            client_id=client.client_id,
            email_verified=rotation.email_verified,
            # the session's second factor, when it gave one (issue 14): refreshed tokens keep it
            amr=tuple(rotation.amr.split()) if rotation.amr else ("pwd",),
            mfa_at=rotation.mfa_at,
        )
    by_hash = {hash_refresh_token(token): token for token in successors.values()}
    spent = await refresh_repository.find_spent_token(
        db, token_hash=token_hash, successor_hashes=tuple(by_hash), now=now, client=client
    )
    if spent is None:
        log_refused_token("refresh", reason="unknown_expired_or_revoked")
        raise InvalidRefreshTokenError()
    if not spent.same_client:
        # neither handed the current token nor taken as theft: another client's token is no
        # grant of this one's at all
        log_refused_token("refresh", reason="another_client", session_id=spent.session_id)
        raise InvalidRefreshTokenError()
    current = spent.repeated_successor(
        now=now, interval_seconds=settings.refresh_reuse_interval_seconds
    )
    if current is not None:
        metrics.count(metrics.REFRESH_REPEATED)
        logger.info("refresh repeated within the reuse interval", extra=_session(spent.session_id))
        return token_pair(
            ctx,
            user_id=spent.user_id,
            session_id=spent.session_id,
            auth_time=spent.session_created_at,
            refresh_token=by_hash[current],
            client_id=client.client_id,
            amr=tuple(spent.amr.split()) if spent.amr else ("pwd",),
            mfa_at=spent.mfa_at,
        )
    # Someone holds a token that was exchanged before the current one, or long enough ago: the
    # legitimate client or a thief, we cannot tell which, so the whole session ends (OAuth 2.0
    # Security BCP, 4.14.2). The revocation must outlive this request's error, or the thief could
    # simply try again.
    reused = AuditEntry(
        EventType.REFRESH_TOKEN_REUSED,
        now=now,
        user_id=spent.user_id,
        actor=SERVICE,
        session_id=spent.session_id,
        client_id=client.client_id,
        details={"session_id": str(spent.session_id)},
    )
    async with independent_write(db):
        await repository.revoke_session(
            db, session_id=spent.session_id, reason="refresh_token_reused", now=now, audit=reused
        )
    metrics.count(metrics.REFRESH_TOKEN_REUSED)
    logger.warning("refresh token reused; session revoked", extra=_session(spent.session_id))
    raise RefreshTokenReusedError()


def _client() -> dict[str, str | None]:
    return {"client_ip": current_client_ip.get()}


def _session(session_id: uuid.UUID) -> dict[str, str | None]:
    return {"session_id": str(session_id), **_client()}


LogoutScope = Literal["local", "others", "global"]


def _logout_ends(scope: LogoutScope, caller: session_repository.Caller) -> ColumnElement[bool]:
    if scope == "local":
        return session_repository.this_session(caller)
    if scope == "others":
        return session_repository.other_sessions(caller)
    return session_repository.every_session()


async def logout(
    db: AsyncSession, ctx: AuthContext, *, access_token: str, scope: LogoutScope = "local"
) -> None:
    """End sessions of the account behind an access token: its own (`local`), every other one
    (`others`), or all of them (`global`); their refresh and access tokens stop working at once.

    The check that the caller's session is live (and its user active) and the revocation are one
    statement, as `authenticate` and a revocation would be two.
    """
    claims = await verified_claims(ctx, access_token)
    caller = session_repository.Caller(user_id=claims.user_id, session_id=claims.session_id)
    event = session_repository.EndedEvent(
        EventType.LOGOUT,
        session_id=claims.session_id,
        details={"scope": scope},
        client_id=claims.client_id or ctx.settings.default_client_id,
        caller_live_enough=scope == "others",
    )
    ended = await session_repository.end_sessions(
        db,
        caller=caller,
        which=_logout_ends(scope, caller),
        reason="logout" if scope == "local" else f"logout_{scope}",
        now=ctx.now(),
        event=event,
    )
    # others: the caller's session stays, and may have had no sibling to end
    ok = ended.caller_live if scope == "others" else claims.session_id in ended.session_ids
    if not ok:
        log_refused_token("access", reason="session_ended", session_id=claims.session_id)
        raise InvalidAccessTokenError()
    metrics.count(metrics.LOGOUT)
    logger.info(
        "logged out",
        extra={"user_id": str(claims.user_id), "scope": scope, "ended": len(ended.session_ids)},
    )
