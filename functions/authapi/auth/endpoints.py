"""HTTP routes of /api/v1/auth. Each is a few lines: parse, call the service, shape the answer.

The five original endpoints also answer at their unversioned /api/auth/... paths, deprecated
(authapi.api_versions); an endpoint added later exists only under /api/v1/.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse

from authapi.abuse.rate_limit import LOGIN, REFRESH, REGISTER, rate_limited
from authapi.api_versions import DeprecatedAliases
from authapi.auth import service
from authapi.auth.dependencies import AuthCtx, BearerToken, CurrentPrincipal
from authapi.auth.login_form import LOGIN_OPENAPI_BODY, read_login_credentials
from authapi.auth.mfa_schemas import MeOut, MfaChallengeOut, MfaFactorOut, MfaOut
from authapi.auth.schemas import (
    LoginRequest,
    RefreshRequest,
    RegisteredOut,
    RegisterOut,
    RegisterRequest,
    SignedInOut,
    TokenPairOut,
    UserOut,
)
from authapi.auth.session_origin import SessionOrigin, session_origin
from authapi.client_address import client_ip
from authapi.exceptions import (
    AuthenticationError,
    ClientAddressUnknownError,
    CrossSiteRequestError,
    EmailNotVerifiedError,
    EmailTakenError,
    InvalidAccessTokenError,
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    InvalidRequestError,
    MfaEnrolmentRequiredError,
    PayloadTooLargeError,
    RefreshInProgressError,
    RefreshTokenReusedError,
    TooManyAttemptsError,
    UnsupportedMediaTypeError,
    WeakPasswordError,
)
from authapi.outbox.messages import EMAIL_VERIFICATION, OutboxMessage
from authapi.problems import problem_responses
from authapi.request_body import require_json_body
from authapi.resources import DbSession, OutboxNotifierDep
from authapi.users import repository as users

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
LEGACY_PREFIX = "/api/auth"
# the deprecated copies of the original endpoints (app.py includes their router after this one)
legacy = DeprecatedAliases(tags=["auth"])


def original_endpoint(path: str, **route: Any) -> Callable[..., Any]:
    """A route of `router` at /api/v1/auth`path`, also at /api/auth`path` (deprecated)."""
    return legacy.add(router, path, alias=LEGACY_PREFIX + path, **route)


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


def _origin(request: Request) -> SessionOrigin:
    return session_origin(request.scope, request.headers.get("user-agent"))


def user_out(user: Any) -> UserOut:
    """The account as a client sees it, `email_verified` included (users.email_verified)."""
    return UserOut(
        id=user.id,
        email=user.email,
        is_active=user.is_active,
        created_at=user.created_at,
        email_verified=users.email_verified(user),
    )


def signed_in_out(result: service.SignedIn, response: Response) -> SignedInOut:
    response.headers.update(NO_STORE)
    return SignedInOut(
        user=user_out(result.user),
        access_token=result.tokens.access_token,
        refresh_token=result.tokens.refresh_token,
        expires_in=result.tokens.expires_in,
        device_token=result.device_token,
    )


@original_endpoint(
    "/register",
    methods=["POST"],
    status_code=status.HTTP_201_CREATED,
    dependencies=[rate_limited(REGISTER), Depends(require_json_body)],
    responses=problem_responses(EmailTakenError, WeakPasswordError, *BODY_ERRORS),
)
async def register(
    body: RegisterRequest,
    db: DbSession,
    ctx: AuthCtx,
    request: Request,
    response: Response,
    notifier: OutboxNotifierDep,
) -> RegisterOut:
    """Create an account and sign it in (not with AUTHAPI_REQUIRE_VERIFIED_EMAIL on: then it
    signs in once verified); a verification message goes to the address."""
    verification = OutboxMessage(kind=EMAIL_VERIFICATION, purpose=EMAIL_VERIFICATION)
    result = await service.register(
        db,
        ctx,
        email=body.email,
        password=body.password,
        origin=_origin(request),
        verification=verification,
    )
    await notifier.notify([verification.id])
    if isinstance(result, service.Registered):
        return RegisterOut(RegisteredOut(user=user_out(result.user)))
    return RegisterOut(signed_in_out(result, response))


# an account with MFA: no tokens yet, the challenge to answer at /api/v1/auth/mfa/challenge
MFA_CHALLENGE_RESPONSE: dict[int | str, dict[str, Any]] = {
    202: {
        "model": MfaChallengeOut,
        "description": "The password is right and the account has MFA: no tokens yet. POST the "
        "`challenge` with a code to `/api/v1/auth/mfa/challenge` within `expires_in` seconds.",
    }
}


@original_endpoint(
    "/login",
    methods=["POST"],
    openapi_extra=LOGIN_OPENAPI_BODY,
    dependencies=[rate_limited(LOGIN)],
    response_model=SignedInOut,
    responses={
        **MFA_CHALLENGE_RESPONSE,
        **problem_responses(
            InvalidCredentialsError, EmailNotVerifiedError, CrossSiteRequestError, *BODY_ERRORS
        ),
    },
)
async def login(
    credentials: Annotated[LoginRequest, Depends(read_login_credentials)],
    db: DbSession,
    ctx: AuthCtx,
    request: Request,
    response: Response,
) -> SignedInOut | JSONResponse:
    """Exchange email and password (JSON, or the OAuth2 password form) for tokens."""
    client = client_ip(request.scope)
    if client is None:  # the rate limit refuses it first; this keeps the type honest
        raise ClientAddressUnknownError()
    result = await service.login(
        db,
        ctx,
        email=credentials.email,
        password=credentials.password,
        client=client,
        origin=_origin(request),
        device_token=credentials.device_token,
    )
    if isinstance(result, service.ChallengeIssued):
        body = MfaChallengeOut(challenge=result.challenge, expires_in=result.expires_in)
        return JSONResponse(
            body.model_dump(), status_code=status.HTTP_202_ACCEPTED, headers=NO_STORE
        )
    return signed_in_out(result, response)


@original_endpoint(
    "/refresh-token",
    methods=["POST"],
    dependencies=[rate_limited(REFRESH), Depends(require_json_body)],
    responses=problem_responses(
        InvalidRefreshTokenError,
        RefreshTokenReusedError,
        RefreshInProgressError,
        EmailNotVerifiedError,
        *BODY_ERRORS,
    ),
)
async def refresh_token(
    body: RefreshRequest, db: DbSession, ctx: AuthCtx, response: Response
) -> TokenPairOut:
    """Exchange a refresh token for a new access and refresh token; the old one is spent.

    Presented again within `AUTHAPI_REFRESH_REUSE_INTERVAL_SECONDS` after that exchange (two tabs,
    a lost response), it gets the same new refresh token again; any older one revokes the session.
    """
    pair = await service.refresh(db, ctx, refresh_token=body.refresh_token)
    response.headers.update(NO_STORE)
    return TokenPairOut(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


@original_endpoint(
    "/logout",
    methods=["POST"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(*BEARER_ERRORS),
)
async def logout(
    token: BearerToken,
    db: DbSession,
    ctx: AuthCtx,
    scope: Annotated[
        service.LogoutScope,
        Query(
            description="`local`: this session; `others`: every other session of the account; "
            "`global`: all of them."
        ),
    ] = "local",
) -> Response:
    """End sessions (the current one by default): their refresh and access tokens stop working."""
    await service.logout(db, ctx, access_token=token, scope=scope)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
