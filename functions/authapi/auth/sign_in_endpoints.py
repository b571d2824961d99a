"""Register, log in, refresh, log out: the routes that start, renew and end sessions, at
/api/v1/auth (and their deprecated /api/auth/... copies).

Imported on the first request to one of their paths (app.py, `SIGN_IN_PATHS`), not at a cold
start: the routes themselves, their request models, the login form and the registration, login
and rotation flows behind them are what a first `/me` does not need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse

from authapi.abuse.rate_limit import LOGIN, REFRESH, REGISTER, rate_limited
from authapi.auth import endpoints, service
from authapi.auth.dependencies import AuthCtx, BearerToken
from authapi.auth.endpoints import BEARER_ERRORS, BODY_ERRORS, NO_STORE, user_out
from authapi.auth.login_form import LOGIN_OPENAPI_BODY, read_login_credentials
from authapi.auth.mfa_schemas import MfaChallengeOut
from authapi.auth.schemas import (
    LoginRequest,
    RefreshRequest,
    RegisteredOut,
    RegisterOut,
    RegisterRequest,
    SignedInOut,
    TokenPairOut,
)
from authapi.auth.session_origin import SessionOrigin, session_origin
from authapi.client_address import client_ip
from authapi.exceptions import (
    ClientAddressUnknownError,
    CrossSiteRequestError,
    EmailNotVerifiedError,
    EmailTakenError,
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    RefreshInProgressError,
    RefreshTokenReusedError,
    WeakPasswordError,
)
from authapi.outbox.messages import EMAIL_VERIFICATION, OutboxMessage
from authapi.problems import problem_responses
from authapi.request_body import require_json_body
from authapi.resources import DbSession, OutboxNotifierDep

# its own router at the same prefix, put by app.py before /me's in the route list (where the
# five routes were declared together before)
router = APIRouter(prefix=endpoints.router.prefix, tags=["auth"])


def original_endpoint(path: str, **route: Any) -> Callable[..., Any]:
    """A route of this module's router, with its deprecated copy (endpoints.original_endpoint)."""
    return endpoints.original_endpoint(path, on=router, **route)


def _origin(request: Request) -> SessionOrigin:
    return session_origin(request.scope, request.headers.get("user-agent"))


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
