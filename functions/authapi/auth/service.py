"""The auth flows: register, login, refresh, logout, and who a bearer token belongs to."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.abuse import login_throttle
from authapi.auth import repository
from authapi.auth.tokens import (
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
    verify_access_token,
)
from authapi.clock import Clock
from authapi.config import Settings
from authapi.db.session import independent_write
from authapi.exceptions import (
    AccountDisabledError,
    EmailTakenError,
    InvalidAccessTokenError,
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    RefreshTokenReusedError,
    UnknownSigningKeyError,
)
from authapi.models import User
from authapi.observability import metrics
from authapi.passwords import PasswordHashing, normalize_password
from authapi.signing.keys import KeyProvider, KeyRing
from authapi.users import repository as users
from authapi.users.password_policy import check_password_policy

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuthContext:
    """What every flow needs besides the database session."""

    settings: Settings
    hashing: PasswordHashing
    key_ring: KeyRing
    key_provider: KeyProvider
    clock: Clock

    def now(self) -> datetime:
        return self.clock.now()


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True)
class SignedIn:
    user: User | users.NewUser  # the account loaded at login, or the one registration wrote
    tokens: TokenPair


@dataclass(frozen=True)
class Principal:
    """The caller behind a verified access token, and the session that token belongs to."""

    user: User
    session_id: uuid.UUID


def _token_pair(
    ctx: AuthContext, *, user_id: uuid.UUID, session_id: uuid.UUID, refresh_token: str
) -> TokenPair:
    access_token = issue_access_token(
        ctx.key_ring, ctx.settings, user_id=user_id, session_id=session_id, now=ctx.now()
    )
    return TokenPair(
        access_token=access_token,
        refresh_token=refresh_token,
        expires_in=ctx.settings.access_token_ttl_seconds,
    )


def _new_session(
    ctx: AuthContext, *, user_id: uuid.UUID, now: datetime
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
    )
    return session, refresh_token


async def register(db: AsyncSession, ctx: AuthContext, *, email: str, password: str) -> SignedIn:
    """Create the account and its first session. `email` is already validated and normalized."""
    password = normalize_password(password)
    check_password_policy(ctx.settings, password=password, email=email)
    now = ctx.now()
    user = users.NewUser(
        id=uuid.uuid4(), email=email, password_hash=await ctx.hashing.hash(password), created_at=now
    )
    session, refresh_token = _new_session(ctx, user_id=user.id, now=now)
    try:
        # user, session and first refresh token in one statement: all of them or none
        await repository.create_session(db, session=session, user=user.insert())
    except IntegrityError as error:
        if "uq_users_email" in str(error.orig):
            raise EmailTakenError() from None
        raise
    metrics.count(metrics.USER_REGISTERED)
    logger.info("user registered", extra={"user_id": str(user.id)})
    tokens = _token_pair(
        ctx, user_id=user.id, session_id=session.session_id, refresh_token=refresh_token
    )
    return SignedIn(user=user, tokens=tokens)


async def login(db: AsyncSession, ctx: AuthContext, *, email: str, password: str) -> SignedIn:
    """Check the password and open a new session, unless the account is throttled."""
    password = normalize_password(password)
    now = ctx.now()
    key = login_throttle.account_key(email)
    user, (failures, locked_until) = await users.get_user_by_email(
        db, email=email, alongside=login_throttle.state_columns(key)
    )
    # a locked account answers before any hash is checked, whether it exists or not
    login_throttle.refuse_if_locked(locked_until=locked_until, now=now)
    if user is None:
        # constant-time path: unknown emails still run one hash verify
        await ctx.hashing.verify_dummy(password)
    if user is None or not await ctx.hashing.verify(user.password_hash, password):
        metrics.count(metrics.LOGIN_FAILED)
        # the failure must count even though this request fails: it is what an attacker sends
        async with independent_write(db):
            await login_throttle.record_failure(db, ctx.settings, key=key, now=now)
        raise InvalidCredentialsError()
    if not user.is_active:
        metrics.count(metrics.LOGIN_FAILED)
        raise AccountDisabledError()
    if failures:
        await login_throttle.clear_failures(db, key=key)
    if ctx.hashing.needs_rehash(user.password_hash):
        # cost parameters changed since this hash was made: upgrade it while we hold the password
        await users.update_password_hash(
            db, user_id=user.id, password_hash=await ctx.hashing.hash(password), now=now
        )
    session, refresh_token = _new_session(ctx, user_id=user.id, now=now)
    await repository.create_session(db, session=session)
    metrics.count(metrics.LOGIN_SUCCEEDED)
    logger.info("login succeeded", extra={"user_id": str(user.id)})
    tokens = _token_pair(
        ctx, user_id=user.id, session_id=session.session_id, refresh_token=refresh_token
    )
    return SignedIn(user=user, tokens=tokens)


async def refresh(db: AsyncSession, ctx: AuthContext, *, refresh_token: str) -> TokenPair:
    """Exchange a refresh token for a new pair; exchanging one token twice revokes its session."""
    now = ctx.now()
    token_hash = hash_refresh_token(refresh_token)
    successor = new_refresh_token()
    rotation = await repository.rotate_refresh_token(
        db,
        token_hash=token_hash,
        new_token_hash=hash_refresh_token(successor),
        new_token_expires_at=now + timedelta(seconds=ctx.settings.refresh_token_ttl_seconds),
        now=now,
    )
    if rotation is None:
        reused_session = await repository.find_consumed_token_session(db, token_hash=token_hash)
        if reused_session is None:
            raise InvalidRefreshTokenError()
        # Someone holds a token that was already exchanged: the legitimate client or a thief,
        # we cannot tell which, so the whole session ends (OAuth 2.0 Security BCP, 4.14.2). The
        # revocation must outlive this request's error, or the thief could simply try again.
        async with independent_write(db):
            await repository.revoke_session(
                db, session_id=reused_session, reason="refresh_token_reused", now=now
            )
        metrics.count(metrics.REFRESH_TOKEN_REUSED)
        logger.warning(
            "refresh token reused; session revoked", extra={"session_id": str(reused_session)}
        )
        raise RefreshTokenReusedError()
    metrics.count(metrics.TOKEN_REFRESHED)
    return _token_pair(
        ctx, user_id=rotation.user_id, session_id=rotation.session_id, refresh_token=successor
    )


async def authenticate(db: AsyncSession, ctx: AuthContext, *, access_token: str) -> Principal:
    """The live user and session behind an access token, or InvalidAccessTokenError."""
    try:
        claims = verify_access_token(ctx.key_ring, ctx.settings, access_token)
    except UnknownSigningKeyError:
        # maybe a key rotated in SSM that our cache has not seen yet: look once more
        ring = await ctx.key_provider.reload()
        claims = verify_access_token(ring, ctx.settings, access_token)
    user = await repository.get_user_in_live_session(
        db, user_id=claims.user_id, session_id=claims.session_id, now=ctx.now()
    )
    if user is None:
        # signed by us, but its session was revoked or has expired, or the user is disabled
        raise InvalidAccessTokenError()
    return Principal(user=user, session_id=claims.session_id)


async def logout(db: AsyncSession, ctx: AuthContext, *, principal: Principal) -> None:
    """End the caller's session: its refresh tokens and access tokens stop working."""
    await repository.revoke_session(
        db, session_id=principal.session_id, reason="logout", now=ctx.now()
    )
    metrics.count(metrics.LOGOUT)
    logger.info("logged out", extra={"user_id": str(principal.user.id)})
