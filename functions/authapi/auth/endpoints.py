"""HTTP routes of /api/v1/auth, and what the auth routes share. Each route is a few lines:
parse, call the service, shape the answer.

`GET /me` lives here. Register, login, refresh and logout live in
`authapi.auth.sign_in_endpoints`, which app.py imports on the first request to one of them: a
cold start whose first request is a `/me` (or a resource server's JWKS read) does not declare
them, nor import the login, registration and rotation machinery behind them.

The five original endpoints also answer at their unversioned /api/auth/... paths, deprecated
(authapi.api_versions); an endpoint added later exists only under /api/v1/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter

from authapi.api_versions import DeprecatedAliases
from authapi.auth.dependencies import CurrentPrincipal
from authapi.auth.mfa_schemas import MeOut, MfaFactorOut, MfaOut
from authapi.auth.schemas import UserOut
from authapi.exceptions import (
    AuthenticationError,
    ClientAddressUnknownError,
    InvalidAccessTokenError,
    InvalidRequestError,
    MfaEnrolmentRequiredError,
    PayloadTooLargeError,
    TooManyAttemptsError,
    UnsupportedMediaTypeError,
)
from authapi.problems import problem_responses
from authapi.users import repository as users

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
LEGACY_PREFIX = "/api/auth"
# the deprecated copies of the original endpoints (app.py includes their router after this one)
legacy = DeprecatedAliases(tags=["auth"])
# The paths of authapi.auth.sign_in_endpoints' routes, for app.py to know when to import it, and
# the five original endpoints': a fixed set (a later endpoint gets no deprecated copy), known
# before the routes are declared so that every answer on a copy carries its headers.
SIGN_IN_PATHS = ("/register", "/login", "/refresh-token", "/logout")
ORIGINAL_PATHS = (*SIGN_IN_PATHS, "/me")


def original_endpoint(path: str, *, on: APIRouter = router, **route: Any) -> Callable[..., Any]:
    """A route of `on` (this module's router unless given; its prefix is /api/v1/auth) at
    /api/v1/auth`path`, also at /api/auth`path` (deprecated)."""
    assert path in ORIGINAL_PATHS, f"{path}: only the original endpoints have a deprecated copy"
    assert on.prefix == router.prefix, "the successor of /api/auth`path` is /api/v1/auth`path`"
    return legacy.add(on, path, alias=LEGACY_PREFIX + path, **route)


def legacy_headers() -> dict[str, dict[str, str]]:
    """What every answer on each deprecated copy carries, by its path: all five, declared yet
    or not (the sign-in routes declare theirs when they load)."""
    return {
        LEGACY_PREFIX + path: legacy.headers_for(router.prefix + path) for path in ORIGINAL_PATHS
    }


# what every endpoint with a body may answer besides its own errors: unreadable, mislabelled
# or oversized bodies, a client over its rate limit, and one whose address is unknown
BODY_ERRORS = (
    ClientAddressUnknownError,
    InvalidRequestError,
    UnsupportedMediaTypeError,
    PayloadTooLargeError,
    TooManyAttemptsError,
)

# what every endpoint taking a bearer token may answer (an enrol-only token: the 403)
BEARER_ERRORS = (AuthenticationError, InvalidAccessTokenError, MfaEnrolmentRequiredError)

# tokens must never sit in a browser or proxy cache (RFC 6749 section 5.1)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def user_out(user: Any) -> UserOut:
    """The account as a client sees it, `email_verified` included (users.email_verified)."""
    return UserOut(
        id=user.id,
        email=user.email,
        is_active=user.is_active,
        created_at=user.created_at,
        email_verified=users.email_verified(user),
    )


@original_endpoint(
    "/me",
    methods=["GET"],
    responses=problem_responses(*BEARER_ERRORS, validates_body=False),
)
async def me(principal: CurrentPrincipal) -> MeOut:
    """The account behind the bearer token, with its second factors (read in the same statement)."""
    factor = principal.factor
    mfa = MfaOut(
        enabled=factor is not None,
        factors=[]
        if factor is None
        else [MfaFactorOut(created_at=factor.created_at, last_used_at=factor.last_used_at)],
        recovery_codes_left=0 if factor is None else factor.recovery_codes_left,
    )
    return MeOut(**user_out(principal.user).model_dump(), mfa=mfa)
