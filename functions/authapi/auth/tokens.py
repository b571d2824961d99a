"""Access tokens (RS256 JWTs) and refresh tokens (opaque, stored hashed)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jwt

from authapi.auth import jws
from authapi.config import Settings
from authapi.exceptions import (
    AdminTokenRequiredError,
    InvalidAccessTokenError,
    MfaEnrolmentRequiredError,
    UnknownSigningKeyError,
)
from authapi.signing.keys import DataKeys, KeyRing
from authapi.tenant_scope import DEFAULT_TENANT, current_tenant

ALGORITHM = "RS256"
ACCESS_TOKEN_TYPE = "at+jwt"  # RFC 9068: a JWT of another kind can never pass as an access token
# `client_id` and `auth_time` (RFC 9068) are issued but not required: tokens signed before they
# were added stay valid until they expire, and no decision here reads them
REQUIRED_CLAIMS = ("iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "token_use")
# headers that would let a token pick its own verification key: never honoured, always refused
FORBIDDEN_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c"})
# extensions (RFC 7515 section 4.1.11, RFC 7797) we never issue: refused rather than understood
UNSUPPORTED_HEADERS = frozenset({"crit", "b64"})

# Clocks of the machines that issue and verify tokens differ by a little: a token issued by a
# clock a second ahead must not be "not yet valid" here (RFC 7519 allows "a few minutes"; a
# few seconds keeps an expired token's afterlife as short)
CLOCK_SKEW_SECONDS = 5

ACCESS = "access"
# AUTHAPI_MFA_REQUIRED: what an account without a factor gets; only enrolment accepts it. Its
# audience is never a resource server's, so a JWT check elsewhere (API Gateway's authorizer, a
# service's own) refuses it without knowing `token_use`
MFA_ENROL = "mfa_enrol"
MFA_ENROL_AUDIENCE = "urn:authapi:mfa-enrolment"

REFRESH_TOKEN_PREFIX = "rt_"  # lets log redaction and secret scanners recognise a leaked token
REFRESH_TOKEN_BYTES = 32  # 256 bits from `secrets`


TENANT_PATH_PREFIX = "/t/"


def tenant_issuer(settings: Settings) -> str:
    """The issuer of the current tenant's tokens: the deployment's own (`AUTHAPI_JWT_ISSUER`)
    for the default tenant, `<issuer>/t/<id>` for another. Issued in `iss` and required of
    every token verified in that tenant, so a token of one tenant is refused by every other."""
    tenant = current_tenant.get()
    if tenant == DEFAULT_TENANT:
        return settings.jwt_issuer
    return f"{settings.jwt_issuer.rstrip('/')}{TENANT_PATH_PREFIX}{tenant}"


@dataclass(frozen=True)
class AccessTokenClaims:
    user_id: uuid.UUID
    session_id: uuid.UUID
    token_id: str
    # the client it was issued to; tokens from before the claim existed: the default client
    client_id: str | None = None
    # every claim as verified, for RFC 7662 introspection
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    enrol_only: bool = False  # `token_use: mfa_enrol`


def issue_access_token(
    ring: KeyRing,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    auth_time: datetime,
    now: datetime,
    client_id: str | None = None,
    email_verified: bool | None = None,
    amr: tuple[str, ...] = ("pwd",),
    mfa_at: datetime | None = None,
    enrol_only: bool = False,
) -> str:
    """An RFC 9068 access token (README, "Access tokens", says what each claim means).

    Args:
        auth_time: when the user authenticated: the sign-in that opened the session, which
            every refresh of it keeps.
        client_id: the client the session belongs to; the JSON API's (the default) if None.
        email_verified: the OpenID Connect claim of that name (README, "Account lifecycle");
            left out where it is not known.
        amr: how the session authenticated (RFC 8176 `pwd`, `otp`; `recovery_code`, ours).
        mfa_at: when a second factor last proved itself in the session (step-up reads it).
        enrol_only: `token_use: mfa_enrol` instead of `access` (AUTHAPI_MFA_REQUIRED, an
            account without a factor): refused everywhere but MFA enrolment.
    """
    issued_at = int(now.timestamp())
    claims = {
        "iss": tenant_issuer(settings),
        "aud": MFA_ENROL_AUDIENCE if enrol_only else settings.jwt_audience,
        "sub": str(user_id),
        "client_id": client_id or settings.default_client_id,
        "auth_time": int(auth_time.timestamp()),
        "sid": str(session_id),
        "jti": uuid.uuid4().hex,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + settings.access_token_ttl_seconds,
        "token_use": MFA_ENROL if enrol_only else ACCESS,
        **mfa_claims(amr, mfa_at),
    }
    if email_verified is not None:
        claims["email_verified"] = email_verified
    return jwt.encode(
        claims,
        ring.signing_key,
        algorithm=ALGORITHM,
        headers={"kid": ring.signing_kid, "typ": ACCESS_TOKEN_TYPE},
    )


ACR_AAL1 = "urn:authapi:aal1"
ACR_AAL2 = "urn:authapi:aal2"
SECOND_FACTORS = frozenset({"otp", "recovery_code"})


def mfa_claims(amr: tuple[str, ...], mfa_at: datetime | None) -> dict[str, object]:
    """`amr`, `acr` (NIST SP 800-63B's assurance level as a URN of ours), `aal`, and `mfa_time`
    when a second factor was given."""
    second = bool(SECOND_FACTORS.intersection(amr))
    claims: dict[str, object] = {
        "amr": list(amr),
        "acr": ACR_AAL2 if second else ACR_AAL1,
        "aal": 2 if second else 1,
    }
    if second and mfa_at is not None:
        claims["mfa_time"] = int(mfa_at.timestamp())
    return claims


def _in_date(claims: dict[str, object], now: datetime) -> bool:
    """exp, nbf and iat against the app's clock (PyJWT would read the wall clock), give or take
    CLOCK_SKEW_SECONDS; a time that is not a number is refused, as PyJWT refuses it."""
    times: list[float] = []
    for name in ("exp", "nbf", "iat"):
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        times.append(float(value))
    exp, nbf, iat = times
    moment = now.timestamp()
    return exp > moment - CLOCK_SKEW_SECONDS and max(nbf, iat) <= moment + CLOCK_SKEW_SECONDS


def verify_access_token(
    ring: KeyRing, settings: Settings, token: str, *, now: datetime, accept_enrol: bool = False
) -> AccessTokenClaims:
    """Check signature, algorithm, type and every claim (times against `now`, the app's clock);
    raise InvalidAccessTokenError otherwise. An enrol-only token (`token_use: mfa_enrol`) is
    MfaEnrolmentRequiredError unless `accept_enrol` (the enrolment endpoints)."""
    try:
        parsed = jws.parse(token)
        header = parsed.header
        if header.get("alg") != ALGORITHM or header.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidAccessTokenError()
        if FORBIDDEN_HEADERS.intersection(header) or UNSUPPORTED_HEADERS.intersection(header):
            raise InvalidAccessTokenError()
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidAccessTokenError()
        public_key = ring.verification_keys.get(kid)
        if public_key is None:
            raise UnknownSigningKeyError()
        claims = jws.verified_payload(parsed, public_key)
        token_use = claims.get("token_use")
        jws.check_registered_claims(
            claims,
            required=REQUIRED_CLAIMS,
            issuer=tenant_issuer(settings),
            audience=MFA_ENROL_AUDIENCE if token_use == MFA_ENROL else settings.jwt_audience,
        )
        if token_use not in (ACCESS, MFA_ENROL) or not _in_date(claims, now):
            raise InvalidAccessTokenError()
        if token_use == MFA_ENROL and not accept_enrol:
            raise MfaEnrolmentRequiredError()
        return AccessTokenClaims(
            user_id=uuid.UUID(str(claims["sub"])),
            session_id=uuid.UUID(str(claims["sid"])),
            token_id=str(claims["jti"]),
            client_id=str(claims["client_id"]) if "client_id" in claims else None,
            claims=claims,
            enrol_only=token_use == MFA_ENROL,
        )
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as error:
        raise InvalidAccessTokenError() from error


# Admin tokens (issue 17): access tokens of the admin API, `aud` <jwt_audience>:admin, which no
# end-user check accepts (their audience is not the API's) and which live at most 15 minutes
ADMIN = "admin"


def admin_audience(settings: Settings) -> str:
    return f"{settings.jwt_audience}:admin"


def issue_admin_token(
    ring: KeyRing,
    settings: Settings,
    *,
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    now: datetime,
    amr: tuple[str, ...],
    mfa_at: datetime | None,
    client_id: str | None = None,
) -> str:
    """An admin access token: the administrator's own session (`sid`, so ending it ends the
    admin token too) and the second factor it gave; `token_use: admin`."""
    issued_at = int(now.timestamp())
    claims = {
        "iss": tenant_issuer(settings),
        "aud": admin_audience(settings),
        "sub": str(user_id),
        "client_id": client_id or settings.default_client_id,
        "sid": str(session_id),
        "jti": uuid.uuid4().hex,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + settings.admin_token_ttl_seconds,
        "token_use": ADMIN,
        **mfa_claims(amr, mfa_at),
    }
    return jwt.encode(
        claims,
        ring.signing_key,
        algorithm=ALGORITHM,
        headers={"kid": ring.signing_kid, "typ": ACCESS_TOKEN_TYPE},
    )


def _signed_claims(ring: KeyRing, token: str) -> dict[str, Any]:
    """The payload of a token of ours whose header and signature hold; nothing else checked."""
    parsed = jws.parse(token)
    header = parsed.header
    if header.get("alg") != ALGORITHM or header.get("typ") != ACCESS_TOKEN_TYPE:
        raise InvalidAccessTokenError()
    if FORBIDDEN_HEADERS.intersection(header) or UNSUPPORTED_HEADERS.intersection(header):
        raise InvalidAccessTokenError()
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise InvalidAccessTokenError()
    public_key = ring.verification_keys.get(kid)
    if public_key is None:
        raise UnknownSigningKeyError()
    return jws.verified_payload(parsed, public_key)


def _end_user_token_in_date(settings: Settings, claims: dict[str, Any], now: datetime) -> bool:
    token_use = claims.get("token_use")
    if token_use not in (ACCESS, MFA_ENROL):
        return False
    try:
        jws.check_registered_claims(
            claims,
            required=REQUIRED_CLAIMS,
            issuer=tenant_issuer(settings),
            audience=MFA_ENROL_AUDIENCE if token_use == MFA_ENROL else settings.jwt_audience,
        )
    except jwt.PyJWTError:
        return False
    return _in_date(claims, now)


def verify_admin_token(
    ring: KeyRing, settings: Settings, token: str, *, now: datetime
) -> AccessTokenClaims:
    """An admin token's claims, checked as `verify_access_token` checks an end-user token's but
    against the admin audience; a valid end-user token is AdminTokenRequiredError (403: a real
    token, not an admin credential), anything else InvalidAccessTokenError."""
    try:
        claims = _signed_claims(ring, token)
        if claims.get("token_use") != ADMIN:
            if _end_user_token_in_date(settings, claims, now):
                raise AdminTokenRequiredError()
            raise InvalidAccessTokenError()
        jws.check_registered_claims(
            claims,
            required=REQUIRED_CLAIMS,
            issuer=tenant_issuer(settings),
            audience=admin_audience(settings),
        )
        if not _in_date(claims, now):
            raise InvalidAccessTokenError()
        return AccessTokenClaims(
            user_id=uuid.UUID(str(claims["sub"])),
            session_id=uuid.UUID(str(claims["sid"])),
            token_id=str(claims["jti"]),
            client_id=str(claims["client_id"]) if "client_id" in claims else None,
            claims=claims,
        )
    except (jwt.PyJWTError, ValueError, TypeError, AttributeError) as error:
        raise InvalidAccessTokenError() from error


def new_refresh_token() -> str:
    return REFRESH_TOKEN_PREFIX + secrets.token_urlsafe(REFRESH_TOKEN_BYTES)


# Separates this use of the data keys from every other (email hashes, ...)
_SUCCESSOR_PURPOSE = "refresh_token.successor"


def successor_refresh_tokens(data_keys: DataKeys, token: str) -> dict[str, str]:
    """The token that succeeds `token`, under each data key (by key id, the current key first).

    A successor is the HMAC of its predecessor under a data key: whoever presents one token twice
    is handed the same successor twice, and the database, which holds only SHA-256 hashes of
    tokens, can derive none without the key. Every key of the ring is tried, so a successor made
    just before a data key rotation is still recognised after it.
    """
    return {
        key_id: REFRESH_TOKEN_PREFIX + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        for key_id, digest in data_keys.hmacs(_SUCCESSOR_PURPOSE, token)
    }


DEVICE_TOKEN_PREFIX = "dt_"
DEVICE_TOKEN_BYTES = 32


def new_device_token() -> str:
    return DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(DEVICE_TOKEN_BYTES)


def hash_device_token(token: str) -> bytes:
    # like a refresh token: 256 random bits, so an unsalted SHA-256 keeps it safe at rest
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def hash_refresh_token(token: str) -> bytes:
    # SHA-256 without a salt is enough here: the token is 256 random bits, not a password
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
