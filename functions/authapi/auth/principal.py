"""Who a bearer token belongs to: the flows' context, an access token's verified claims, and the
live account and session behind them (`authenticate`).

Apart from the flows (authapi.auth.service) because a request with a bearer token (`/me`, the
sessions, the MFA and account routes) needs only this: a cold start whose first request is one
of them does not import registration, login and refresh.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from authapi.auth import repository
from authapi.auth.tokens import AccessTokenClaims, verify_access_token
from authapi.clock import Clock
from authapi.config import Settings
from authapi.exceptions import (
    InvalidAccessTokenError,
    MfaEnrolmentRequiredError,
    UnknownSigningKeyError,
)
from authapi.mfa.repository import FactorSummary
from authapi.models import User
from authapi.observability.request_context import current_client_ip
from authapi.passwords import PasswordHashing
from authapi.signing.keys import KeyProvider, KeyRing

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
class Principal:
    """The caller behind a verified access token, and the session that token belongs to."""

    user: User
    session_id: uuid.UUID
    # the token's verified claims (`amr`, `mfa_time`: what step-up reads)
    claims: AccessTokenClaims | None = None
    # the account's active authenticator, read with the session (None: the account has none)
    factor: FactorSummary | None = None


async def verified_claims(
    ctx: AuthContext, access_token: str, *, accept_enrol: bool = False
) -> AccessTokenClaims:
    """The claims of an access token we signed and that is still in date, or the 401 (the 403
    of an enrol-only token, unless `accept_enrol`)."""
    try:
        try:
            return verify_access_token(
                ctx.key_ring, ctx.settings, access_token, now=ctx.now(), accept_enrol=accept_enrol
            )
        except UnknownSigningKeyError:
            # maybe a key rotated in SSM that our cache has not seen yet: look once more
            ring = await ctx.key_provider.reload()
            return verify_access_token(
                ring, ctx.settings, access_token, now=ctx.now(), accept_enrol=accept_enrol
            )
    except InvalidAccessTokenError as error:
        log_refused_token("access", reason=_why(error))
        raise


async def authenticate(
    db: AsyncSession, ctx: AuthContext, *, access_token: str, accept_enrol: bool = False
) -> Principal:
    """The live user and session behind an access token, or InvalidAccessTokenError;
    `accept_enrol`: an enrol-only token too (the MFA enrolment endpoints)."""
    claims = await verified_claims(ctx, access_token, accept_enrol=accept_enrol)
    found = await repository.get_principal_user(
        db, user_id=claims.user_id, session_id=claims.session_id, now=ctx.now()
    )
    if found is None:
        # signed by us, but its session was revoked or has expired, or the user is disabled
        log_refused_token("access", reason="session_ended", session_id=claims.session_id)
        raise InvalidAccessTokenError()
    user, factor = found
    return Principal(user=user, session_id=claims.session_id, claims=claims, factor=factor)


def _why(error: InvalidAccessTokenError) -> str:
    """What was wrong with a refused token, as far as the log may say (never the token)."""
    if isinstance(error, UnknownSigningKeyError):
        return "unknown_signing_key"
    if isinstance(error, MfaEnrolmentRequiredError):
        return "enrol_only"
    cause = error.__cause__
    return type(cause).__name__ if cause is not None else "not_an_access_token"


def log_refused_token(kind: str, *, reason: str, session_id: uuid.UUID | None = None) -> None:
    extra: dict[str, str | None] = {
        "token": kind,
        "reason": reason,
        "client_ip": current_client_ip.get(),
    }
    if session_id is not None:
        extra["session_id"] = str(session_id)
    logger.warning(f"{kind} token refused", extra=extra)
