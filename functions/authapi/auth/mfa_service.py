"""The MFA flows (issue 14): enrol and verify a TOTP authenticator, answer a login's challenge,
step up, regenerate recovery codes, disable. The building blocks live in authapi.mfa.

Every code checked here counts in the login throttles first, like a password (a wrong code is
a wrong password there), and a correct one gives the attempt back.

Audit rows ride in the statements that make the change: the spend (mfa.enabled, a recovery
code used, or a factor the statement refused), the statement that gives the attempt back
(step-up, new recovery codes, disable), the new session's (login.succeeded). A code that is
wrong before any statement (its time step is not the one shown, or was already accepted) is
recorded with the count, only when the throttles let it in: an attempt refused with 429 is
counted, not audited. Each is left out on the schema before the audit trail's migration.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import CTE, ColumnElement, Delete, Update, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from authapi.abuse import login_throttle
from authapi.audit.events import EventType
from authapi.audit.record import AuditEntry, audit_writes, with_audit_fallback
from authapi.auth import repository, service
from authapi.auth.principal import AuthContext, Principal
from authapi.auth.session_origin import SessionOrigin
from authapi.auth.step_up import amr_of, require_recent_mfa
from authapi.auth.tokens import issue_access_token
from authapi.db.chained_writes import chained_writes
from authapi.db.session import independent_write
from authapi.exceptions import (
    InvalidCredentialsError,
    InvalidMfaChallengeError,
    InvalidMfaCodeError,
    MfaAlreadyEnabledError,
    MfaNotEnrolledError,
)
from authapi.mfa import recovery, totp
from authapi.mfa import repository as mfa
from authapi.mfa.challenges import challenge_new_device, hash_challenge_token
from authapi.models import User
from authapi.observability import metrics
from authapi.passwords import normalize_password
from authapi.signing.sealing import open_sealed, seal
from authapi.users import repository as users

logger = logging.getLogger(__name__)

SECRET_PURPOSE = "mfa.totp_secret"


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, for typing into an app by hand
    otpauth_uri: str
    qr_svg: str


@dataclass(frozen=True)
class SecondFactor:
    """A code or a recovery code, as the client sent it (exactly one of them)."""

    code: str | None = None
    recovery_code: str | None = None


@dataclass(frozen=True)
class Counted:
    keys: login_throttle.LoginKeys
    account_counted: bool
    user: User | None


def _event(type: EventType, now: datetime, principal: Principal, **details: object) -> AuditEntry:
    """An event of the caller's own account, session and client."""
    claims = principal.claims
    return AuditEntry(
        type,
        now=now,
        user_id=principal.user.id,
        session_id=principal.session_id,
        client_id=claims.client_id if claims is not None else None,
        details=details,
    )


def _given(given: SecondFactor) -> str:
    return "otp" if given.code is not None else "recovery_code"


def _if_allowed(failure: AuditEntry) -> Callable[[login_throttle.AttemptCount], CTE]:
    """The failure's rows as the count's further write (one CTE: the outbox row's, carrying the
    audit row's as its own, which SQLAlchemy lifts into the statement's WITH), only when the
    throttles let the attempt in: an attempt refused with 429 is counted, not audited."""

    def cte(attempt: login_throttle.AttemptCount) -> CTE:
        audit, outbox = audit_writes(
            failure, when=exists(select(attempt.account_client.c.failures))
        )
        return outbox.add_cte(audit.cte("failed_audit")).cte("failed_audit_outbox")

    return cte


async def _count(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    email: str,
    client: str,
    failure: AuditEntry | None = None,
) -> Counted:
    """Count one attempt for the account, as login does; the throttles' 429 when refused.
    `failure`: the event of a factor already known to be wrong, recorded with the count (on
    the schema before the audit trail, the count's own fallback leaves it out)."""
    now, settings = ctx.now(), ctx.settings
    keys = login_throttle.login_keys(ctx.key_ring.data_keys, email=email, client=client)
    async with independent_write(db):
        attempt = await repository.record_login_attempt(
            db,
            email=email,
            device_token_hash=None,
            count=lambda trusted: login_throttle.count_attempt(
                keys, settings, now=now, device_trusted=trusted
            ),
            now=now,
            notice=_if_allowed(failure) if failure is not None else None,
        )
    if not attempt.allowed:
        metrics.count(metrics.TOO_MANY_ATTEMPTS)
        logger.warning("second factor refused: throttled", extra={"client_ip": client})
        raise login_throttle.refusal(
            settings,
            refused_by_account=attempt.refused_by_account,
            locked_until=attempt.locked_until,
            now=now,
        )
    return Counted(keys=keys, account_counted=attempt.account_counted, user=attempt.user)


async def _forgive(
    db: AsyncSession,
    ctx: AuthContext,
    counted: Counted,
    *writes: UpdateBase,
    events: Sequence[AuditEntry] = (),
    when: ColumnElement[bool] | None = None,
    ctes: tuple[CTE, ...] = (),
) -> None:
    """Give the counted attempt back (a correct factor), in one statement with `writes` (and
    `ctes`) and the flow's `events` (only `when`)."""
    resets = login_throttle.after_success(
        counted.keys, ctx.settings, now=ctx.now(), account_counted=counted.account_counted
    )

    async def write(with_audit: bool) -> None:
        recorded = [w for entry in events for w in audit_writes(entry, when=when)]
        statement = chained_writes(*writes, *(recorded if with_audit else ()), *resets)
        await db.execute(statement.add_cte(*ctes) if ctes else statement)

    await with_audit_fallback(write)


def _secret(ctx: AuthContext, factor: mfa.Factor) -> str:
    return open_sealed(
        ctx.key_ring.data_keys, SECRET_PURPOSE, key_id=factor.key_id, blob=factor.sealed_secret
    )


@dataclass(frozen=True)
class Spend:
    """The write that spends a given factor, and its `amr` value."""

    write: Update
    method: str


def _matching(ctx: AuthContext, factor: mfa.Factor, given: SecondFactor) -> Spend | None:
    """What would spend the given factor (a time step after the last accepted one, or an unused
    recovery code: the statement decides), or None when it is wrong already (a wrong code, a
    replayed step, a recovery code for an unfinished enrolment): no statement needed."""
    now = ctx.now()
    if given.code is not None:
        step = totp.matching_step(
            _secret(ctx, factor), given.code, now=now, drift_steps=ctx.settings.mfa_totp_drift_steps
        )
        if step is None or (factor.last_step is not None and step <= factor.last_step):
            return None
        return Spend(mfa.accept_step(user_id=factor.user_id, step=step, now=now), "otp")
    if given.recovery_code is not None and factor.active:
        hmacs = recovery.hmacs(ctx.key_ring.data_keys, given.recovery_code)
        return Spend(
            mfa.use_recovery_code(user_id=factor.user_id, hmacs=hmacs, now=now), "recovery_code"
        )
    return None


async def _spend(
    db: AsyncSession,
    spend: Spend | None,
    *,
    also: tuple[Update, ...] = (),
    along: tuple[Update | Delete | mfa.Conditional, ...] = (),
    on_match: Sequence[AuditEntry] = (),
    on_miss: Sequence[AuditEntry] = (),
) -> str | None:
    """Spend the second factor together with `also` (which must match too) and `along` (which
    runs with it), recording `on_match` when it was spent, `on_miss` when not; its `amr`
    value, or None when it is wrong, replayed or spent."""
    if spend is None:
        return None

    async def run(with_audit: bool) -> bool:
        return await mfa.all_matched(
            db,
            spend.write,
            *also,
            along=along,
            on_match=on_match if with_audit else (),
            on_miss=on_miss if with_audit else (),
        )

    return spend.method if await with_audit_fallback(run) else None


def _code_used(spend: Spend | None, entry: AuditEntry) -> list[AuditEntry]:
    """mfa.recovery_code_used (`entry`), when what is spent is a recovery code."""
    return [entry] if spend is not None and spend.method == "recovery_code" else []


def _refused(user_id: uuid.UUID, flow: str) -> InvalidMfaCodeError:
    metrics.count(metrics.LOGIN_FAILED)
    logger.warning("second factor refused", extra={"user_id": str(user_id), "flow": flow})
    return InvalidMfaCodeError()


async def _check_password(ctx: AuthContext, user: User, password: str) -> None:
    if not await ctx.hashing.verify(user.password_hash, normalize_password(password)):
        logger.warning("mfa: wrong password", extra={"user_id": str(user.id)})
        raise InvalidCredentialsError()


@dataclass(frozen=True)
class NewCodes:
    codes: list[str]  # shown once
    key_id: str
    hmacs: list[bytes]  # what is stored


def _new_codes(ctx: AuthContext) -> NewCodes:
    codes = recovery.new_codes()
    hmacs = [recovery.hmac_current(ctx.key_ring.data_keys, code)[1] for code in codes]
    return NewCodes(codes, ctx.key_ring.data_keys.current_id, hmacs)


async def enrol(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    principal: Principal,
    password: str,
    client: str,
) -> Enrolment:
    """A new, inactive TOTP secret (replacing an unfinished one); needs the current password, so
    a stolen access token alone cannot enrol an attacker's authenticator."""
    user = principal.user
    counted = await _count(db, ctx, email=user.email, client=client)
    await _check_password(ctx, user, password)
    secret = totp.new_secret()
    key_id, sealed = seal(ctx.key_ring.data_keys, SECRET_PURPOSE, secret)
    now = ctx.now()
    started = _event(EventType.MFA_ENROLMENT_STARTED, now, principal, factor="totp")
    if not await with_audit_fallback(
        lambda with_audit: mfa.start_enrolment(
            db,
            user_id=user.id,
            key_id=key_id,
            sealed_secret=sealed,
            now=now,
            audit=started if with_audit else None,
        )
    ):
        raise MfaAlreadyEnabledError()
    await _forgive(db, ctx, counted)
    uri = totp.provisioning_uri(secret, account=user.email, issuer=ctx.settings.mfa_issuer)
    logger.info("mfa enrolment started", extra={"user_id": str(user.id)})
    return Enrolment(secret=secret, otpauth_uri=uri, qr_svg=totp.qr_svg(uri))


@dataclass(frozen=True)
class Verified:
    recovery_codes: list[str]
    access_token: str  # the session has given a second factor now: a full token (aal2)
    expires_in: int


async def verify_enrolment(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    principal: Principal,
    code: str,
    client: str,
) -> Verified:
    """Activate the enrolled authenticator with a first code; the 10 recovery codes, once, and
    a fresh access token: the code is this session's second factor, which its refreshed tokens
    keep (with AUTHAPI_MFA_REQUIRED, the end of an enrol-only session's restriction)."""
    user, now = principal.user, ctx.now()
    factor = await mfa.get_factor(db, user_id=user.id)
    if factor is None or factor.active:
        raise MfaNotEnrolledError() if factor is None else MfaAlreadyEnabledError()
    counted = await _count(db, ctx, email=user.email, client=client)
    new = _new_codes(ctx)
    amr = tuple(dict.fromkeys(("pwd", *amr_of(principal), "otp")))
    # the activation, its recovery codes and the session's mark in one statement: a cut after
    # it never leaves an active factor without its codes; only the throttles' reset follows
    activation = (
        mfa.forget_recovery_codes(user_id=user.id),
        mfa.store_recovery_codes_when(user_id=user.id, key_id=new.key_id, hmacs=new.hmacs),
        repository.mark_session_mfa(session_id=principal.session_id, amr=" ".join(amr), now=now),
    )
    spend = _matching(ctx, factor, SecondFactor(code=code))
    enabled = _event(EventType.MFA_ENABLED, now, principal, factor="totp")
    if await _spend(db, spend, along=activation, on_match=[enabled]) is None:
        raise _refused(user.id, "verify")
    await _forgive(db, ctx, counted)
    logger.info("mfa enabled", extra={"user_id": str(user.id)})
    token = _session_token(ctx, principal, amr=amr, now=now)
    return Verified(new.codes, token, ctx.settings.access_token_ttl_seconds)


def _session_token(
    ctx: AuthContext, principal: Principal, *, amr: tuple[str, ...], now: datetime
) -> str:
    """A new access token of the caller's session, with a second factor given `now`."""
    claims = principal.claims
    return issue_access_token(
        ctx.key_ring,
        ctx.settings,
        user_id=principal.user.id,
        session_id=principal.session_id,
        auth_time=_auth_time(principal, now),
        now=now,
        client_id=claims.client_id if claims is not None else None,
        email_verified=users.email_verified(principal.user),
        amr=amr,
        mfa_at=now,
    )


async def answer_challenge(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    challenge: str,
    given: SecondFactor,
    client: str,
) -> service.SignedIn:
    """Finish a login: the challenge its password step opened, and a code or a recovery code."""
    now, settings = ctx.now(), ctx.settings
    token_hash = hash_challenge_token(challenge)
    claimed = await mfa.claim_challenge_attempt(db, token_hash=token_hash, now=now)
    if claimed is None:
        logger.warning("mfa challenge refused", extra={"client_ip": client})
        raise InvalidMfaChallengeError()
    spend = _matching(ctx, claimed.factor, given)
    failure = AuditEntry(
        EventType.MFA_CHALLENGE_FAILED,
        now=now,
        user_id=claimed.user_id,
        client_id=claimed.client_id,
        details={"stage": "login", "method": _given(given)},
    )
    # a factor wrong already is recorded with the count; one the statement refuses, with it
    counted = await _count(
        db, ctx, email=claimed.email, client=client, failure=failure if spend is None else None
    )
    user = counted.user
    if user is None or user.id != claimed.user_id:
        # the challenge's own account, read by _count (its email moved meanwhile): refused
        # before anything is spent or a session is written
        raise InvalidMfaChallengeError()
    used = AuditEntry(
        EventType.MFA_RECOVERY_CODE_USED,
        now=now,
        user_id=claimed.user_id,
        client_id=claimed.client_id,
        details={"stage": "login"},
    )
    method = await _spend(
        db,
        spend,
        also=(mfa.spend_challenge(token_hash=token_hash, now=now),),
        on_match=_code_used(spend, used),
        on_miss=[failure],
    )
    if method is None:
        raise _refused(claimed.user_id, "challenge")
    amr = ("pwd", method)
    session, refresh_token = service.new_session(
        ctx,
        user_id=claimed.user_id,
        origin=SessionOrigin(user_agent=claimed.user_agent, ip=claimed.ip),
        now=now,
        client_id=claimed.client_id,
    )
    session = _with_mfa(session, amr=amr, now=now)
    device, device_token = service.new_device_token_row(ctx, user_id=claimed.user_id, now=now)
    writes = [
        *login_throttle.after_success(
            counted.keys, settings, now=now, account_counted=counted.account_counted
        ),
        device.insert(),
    ]
    details: dict[str, object] = {"method": f"password+{method}", "amr": list(amr)}
    # as a password-only login's: the password step's device check, which its challenge's token
    # carries (authapi.mfa.challenges); authentic, since the token's hash just found it
    new_device = challenge_new_device(challenge)
    if new_device is not None:
        details["new_device"] = new_device
    succeeded = AuditEntry(
        EventType.LOGIN_SUCCEEDED,
        now=now,
        user_id=claimed.user_id,
        session_id=session.session_id,
        client_id=claimed.client_id,
        details=details,
    )

    async def open_session(with_audit: bool) -> None:
        recorded = audit_writes(succeeded) if with_audit else ()
        await repository.create_session(db, session=session, alongside=(*writes, *recorded))

    await with_audit_fallback(open_session)
    metrics.count(metrics.LOGIN_SUCCEEDED)
    logger.info("login succeeded", extra={"user_id": str(user.id), "amr": " ".join(amr)})
    tokens = service.token_pair(
        ctx,
        user_id=user.id,
        session_id=session.session_id,
        auth_time=now,
        refresh_token=refresh_token,
        client_id=claimed.client_id,
        email_verified=users.email_verified(user),  # as a password login's and a refresh's
        amr=amr,
        mfa_at=now,
    )
    return service.SignedIn(user=user, tokens=tokens, device_token=device_token)


def _with_mfa(
    session: repository.NewSession, *, amr: tuple[str, ...], now: datetime
) -> repository.NewSession:
    return replace(session, amr=" ".join(amr), mfa_at=now)


async def _active_factor(db: AsyncSession, user_id: uuid.UUID) -> mfa.Factor:
    factor = await mfa.get_factor(db, user_id=user_id)
    if factor is None or not factor.active:
        raise MfaNotEnrolledError()
    return factor


async def step_up(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    principal: Principal,
    given: SecondFactor,
    client: str,
) -> tuple[str, int]:
    """A fresh access token for the caller's session, carrying a second factor given now; the
    session keeps it (its refreshed tokens carry it too). (token, expires_in)"""
    user, now = principal.user, ctx.now()
    factor = await _active_factor(db, user.id)
    spend = _matching(ctx, factor, given)
    failure = _event(
        EventType.MFA_CHALLENGE_FAILED, now, principal, stage="step_up", method=_given(given)
    )
    counted = await _count(
        db, ctx, email=user.email, client=client, failure=failure if spend is None else None
    )
    used = _event(EventType.MFA_RECOVERY_CODE_USED, now, principal, stage="step_up")
    method = await _spend(db, spend, on_match=_code_used(spend, used), on_miss=[failure])
    if method is None:
        raise _refused(user.id, "step_up")
    amr = tuple(dict.fromkeys(("pwd", *amr_of(principal), method)))
    mark = repository.mark_session_mfa(session_id=principal.session_id, amr=" ".join(amr), now=now)
    stepped = _event(EventType.MFA_STEP_UP, now, principal, method=method)
    await _forgive(db, ctx, counted, mark, events=[stepped])
    token = _session_token(ctx, principal, amr=amr, now=now)
    logger.info("mfa step-up", extra={"user_id": str(user.id), "method": method})
    return token, ctx.settings.access_token_ttl_seconds


def _auth_time(principal: Principal, now: datetime) -> datetime:
    claims = principal.claims.claims if principal.claims is not None else {}
    value = claims.get("auth_time")
    if isinstance(value, int):
        return datetime.fromtimestamp(value, tz=now.tzinfo)
    return now


async def regenerate_recovery_codes(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    principal: Principal,
    given: SecondFactor,
    client: str,
) -> list[str]:
    """A new set of 10 recovery codes (the old set stops working); needs a fresh second factor."""
    user, now = principal.user, ctx.now()
    factor = await _active_factor(db, user.id)
    counted = await _count(db, ctx, email=user.email, client=client)
    spend = _matching(ctx, factor, given)
    used = _event(EventType.MFA_RECOVERY_CODE_USED, now, principal, stage="regenerate")
    if await _spend(db, spend, on_match=_code_used(spend, used)) is None:
        raise _refused(user.id, "regenerate")
    new = _new_codes(ctx)
    stored = mfa.store_recovery_codes(user_id=user.id, key_id=new.key_id, hmacs=new.hmacs)
    regenerated = _event(
        EventType.MFA_RECOVERY_CODES_REGENERATED, now, principal, count=len(new.codes)
    )
    await _forgive(
        db,
        ctx,
        counted,
        mfa.forget_recovery_codes(user_id=user.id),
        stored,
        events=[regenerated],
    )
    logger.info("mfa recovery codes regenerated", extra={"user_id": str(user.id)})
    return new.codes


async def disable(
    db: AsyncSession,
    ctx: AuthContext,
    *,
    principal: Principal,
    password: str,
    given: SecondFactor,
    client: str,
) -> None:
    """Remove the authenticator and its recovery codes; needs the password and a current code
    or a recovery code, and a session that gave a second factor recently (step-up); every
    other session of the account ends, and this one forgets its second factor."""
    user, now = principal.user, ctx.now()
    factor = await _active_factor(db, user.id)
    require_recent_mfa(ctx, principal)
    counted = await _count(db, ctx, email=user.email, client=client)
    await _check_password(ctx, user, password)
    spend = _matching(ctx, factor, given)
    used = _event(EventType.MFA_RECOVERY_CODE_USED, now, principal, stage="disable")
    method = await _spend(db, spend, on_match=_code_used(spend, used))
    if method is None:
        raise _refused(user.id, "disable")
    # recorded only if this statement removed the factor (not a concurrent disable or reset)
    forgotten = mfa.forget_factor(user_id=user.id).cte("forgotten_factor")
    disabled = _event(EventType.MFA_DISABLED, now, principal, method=method)
    await _forgive(
        db,
        ctx,
        counted,
        mfa.forget_recovery_codes(user_id=user.id),
        repository.end_other_sessions(
            user_id=user.id, session_id=principal.session_id, reason="mfa_disabled", now=now
        ),
        # this session's own factor went with the factor: no refresh of it claims one (its
        # current access token stays valid until it expires, like any access token)
        repository.forget_session_mfa(session_id=principal.session_id),
        events=[disabled],
        when=exists(select(forgotten.c.user_id)),
        ctes=(forgotten,),
    )
    logger.info("mfa disabled", extra={"user_id": str(user.id)})
