"""HTTP routes of /api/v1/oauth: the RFC 6749 token endpoint, RFC 7009 revocation and RFC 7662
introspection, over the same service code as the JSON API. Every error here is an RFC 6749
section 5.2 body (problems.py), which OAuth client libraries turn into their own typed errors."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from authapi.abuse.rate_limit import INTROSPECT, LOGIN, REFRESH, REVOKE, RateLimiterDep
from authapi.auth import second_factor, service
from authapi.auth.dependencies import AuthCtx
from authapi.auth.principal import AuthContext
from authapi.auth.schemas import LoginRequest
from authapi.auth.session_origin import session_origin
from authapi.client_address import client_ip
from authapi.exceptions import (
    ClientAddressUnknownError,
    CrossSiteRequestError,
    DatabaseUnavailableError,
    EmailNotVerifiedError,
    InvalidClientError,
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    InvalidRequestError,
    MfaRequiredError,
    RefreshInProgressError,
    RefreshTokenReusedError,
    SecretsUnavailableError,
    TooManyAttemptsError,
    UnsupportedGrantTypeError,
    UnsupportedMediaTypeError,
)
from authapi.oauth import service as oauth_service
from authapi.oauth.client_auth import authenticate_client
from authapi.oauth.forms import OAuthForm, read_oauth_form, required
from authapi.oauth.schemas import IntrospectionOut, OAuthTokenOut, form_body, oauth_error_responses
from authapi.observability import metrics
from authapi.resources import DbSession
from authapi.signing.clients import OAuthClient

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/oauth", tags=["oauth"])
Form = Annotated[OAuthForm, Depends(read_oauth_form)]

# tokens must never sit in a browser or proxy cache (RFC 6749 section 5.1)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

# what every OAuth endpoint may answer besides its own errors
_FORM_ERRORS = (
    InvalidRequestError(),
    UnsupportedMediaTypeError(),
    CrossSiteRequestError(),
    ClientAddressUnknownError(),
    InvalidClientError(through_header=True),
    InvalidClientError(through_header=False),
    TooManyAttemptsError(retry_after_seconds=1),
    DatabaseUnavailableError(),
    SecretsUnavailableError(),
)
# RFC 6749 section 3.1: a parameter sent empty is one not sent at all
_TEXT: dict[str, object] = {"type": "string", "minLength": 1}
_CLIENT = {"client_id": {**_TEXT, "description": "A public client's id (confidential: Basic)."}}
_TOKEN = {"token": _TEXT, "token_type_hint": _TEXT}


def _client(
    request: Request, form: OAuthForm, ctx: AuthContext, *, confidential_only: bool = False
) -> OAuthClient:
    try:
        return authenticate_client(
            request,
            form,
            key_ring=ctx.key_ring,
            settings=ctx.settings,
            confidential_only=confidential_only,
        )
    except InvalidClientError as error:
        metrics.count(metrics.OAUTH_CLIENT_REFUSED)
        # the id a client claims is no secret; its secret never reaches a log line
        claimed = form.get("client_id") if error.status == 400 else "(http basic)"
        logger.warning(
            "oauth client refused", extra={"client_id": claimed, "path": request.url.path}
        )
        raise


def _grant_types(ctx: AuthContext) -> tuple[str, ...]:
    return (
        ("refresh_token", "password") if ctx.settings.oauth_password_grant else ("refresh_token",)
    )


@router.post(
    "/token",
    openapi_extra=form_body(
        ["grant_type"],
        {
            "grant_type": {"type": "string", "enum": ["refresh_token", "password"]},
            "refresh_token": _TEXT,
            "username": {**_TEXT, "description": "password grant: the account's email"},
            "password": {**_TEXT, "format": "password"},
            **_CLIENT,
        },
    ),
    responses=oauth_error_responses(
        *_FORM_ERRORS,
        UnsupportedGrantTypeError(),
        InvalidRefreshTokenError(),
        RefreshTokenReusedError(),
        InvalidCredentialsError(),
        EmailNotVerifiedError(),
        MfaRequiredError(),
        RefreshInProgressError(),
    ),
)
async def token(
    form: Form,
    db: DbSession,
    ctx: AuthCtx,
    limit: RateLimiterDep,
    request: Request,
    response: Response,
) -> OAuthTokenOut:
    """RFC 6749 token endpoint: `refresh_token` grant; `password` when enabled."""
    grant_type = required(form, "grant_type")
    if grant_type not in _grant_types(ctx):
        raise UnsupportedGrantTypeError(f"Supported grant types: {', '.join(_grant_types(ctx))}.")
    # counted before the client is checked: guessing client secrets spends the same budget
    await limit(REFRESH if grant_type == "refresh_token" else LOGIN)
    client = _client(request, form, ctx)
    if grant_type == "refresh_token":
        pair = await service.refresh(
            db, ctx, refresh_token=required(form, "refresh_token"), client_id=client.client_id
        )
    else:
        pair = await _password_grant(db, ctx, request, form, client)
    response.headers.update(NO_STORE)
    return OAuthTokenOut(
        access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in
    )


async def _password_grant(
    db: DbSession, ctx: AuthContext, request: Request, form: OAuthForm, client: OAuthClient
) -> service.TokenPair:
    try:
        credentials = LoginRequest.model_validate(
            {"email": required(form, "username"), "password": required(form, "password")}
        )
    except ValidationError:
        raise InvalidRequestError("username and password must be printable text.") from None
    address = client_ip(request.scope)
    if address is None:  # the rate limit refuses it first; this keeps the type honest
        raise ClientAddressUnknownError()
    signed_in = await service.login(
        db,
        ctx,
        email=credentials.email,
        password=credentials.password,
        client=address,
        origin=session_origin(request.scope, request.headers.get("user-agent")),
        client_id=client.client_id,
        second_factor=second_factor.password_grant_policy,
    )
    # the policy refuses every account with a factor, so none reaches a challenge here
    assert isinstance(signed_in, service.SignedIn)
    return signed_in.tokens


@router.post(
    "/revoke",
    openapi_extra=form_body(["token"], {**_TOKEN, **_CLIENT}),
    responses=oauth_error_responses(*_FORM_ERRORS),
)
async def revoke(
    form: Form, db: DbSession, ctx: AuthCtx, limit: RateLimiterDep, request: Request
) -> Response:
    """RFC 7009: end the session of a refresh or access token; 200 whatever the token was."""
    await limit(REVOKE)
    client = _client(request, form, ctx)
    await oauth_service.revoke(db, ctx, token=required(form, "token"), client=client)
    return Response(status_code=200, headers=NO_STORE)


@router.post(
    "/introspect",
    response_model=IntrospectionOut,
    openapi_extra=form_body(["token"], _TOKEN),
    responses=oauth_error_responses(*_FORM_ERRORS),
)
async def introspect(
    form: Form, db: DbSession, ctx: AuthCtx, limit: RateLimiterDep, request: Request
) -> Response:
    """RFC 7662, confidential clients only: whether a token is live, and what it says."""
    await limit(INTROSPECT)
    _client(request, form, ctx, confidential_only=True)
    answer = await oauth_service.introspect(db, ctx, token=required(form, "token"))
    return JSONResponse(answer, headers=NO_STORE)
