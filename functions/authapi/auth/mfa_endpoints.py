"""HTTP routes of /api/v1/auth/mfa: enrol, verify, answer a login's challenge, step up,
regenerate recovery codes, disable (issue 14)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response, status

from authapi.abuse.rate_limit import LOGIN, rate_limited
from authapi.auth import mfa_service
from authapi.auth.dependencies import AuthCtx, CurrentPrincipal, EnrollingPrincipal
from authapi.auth.endpoints import BODY_ERRORS, NO_STORE
from authapi.auth.mfa_schemas import (
    AccessTokenOut,
    ChallengeRequest,
    DisableRequest,
    EnrolmentOut,
    EnrolRequest,
    RecoveryCodesOut,
    RegenerateRequest,
    StepUpRequest,
    VerifiedOut,
    VerifyRequest,
)
from authapi.auth.schemas import SignedInOut
from authapi.auth.sign_in_endpoints import signed_in_out
from authapi.client_address import client_ip
from authapi.exceptions import (
    AuthenticationError,
    ClientAddressUnknownError,
    InvalidAccessTokenError,
    InvalidCredentialsError,
    InvalidMfaChallengeError,
    InvalidMfaCodeError,
    MfaAlreadyEnabledError,
    MfaEnrolmentRequiredError,
    MfaNotEnrolledError,
    StepUpRequiredError,
)
from authapi.problems import problem_responses
from authapi.request_body import require_json_body
from authapi.resources import DbSession

router = APIRouter(prefix="/api/v1/auth/mfa", tags=["mfa"])
# a code is guessed like a password: the login endpoint's rate limit
LIMITED = [rate_limited(LOGIN), Depends(require_json_body)]
# enrol and verify take an enrol-only token (AUTHAPI_MFA_REQUIRED); the others refuse it
ENROLLING = (AuthenticationError, InvalidAccessTokenError)
BEARER = (*ENROLLING, MfaEnrolmentRequiredError)


def _client(request: Request) -> str:
    client = client_ip(request.scope)
    if client is None:  # the rate limit refuses it first; this keeps the type honest
        raise ClientAddressUnknownError()
    return client


def _factor(body: StepUpRequest | RegenerateRequest | DisableRequest) -> mfa_service.SecondFactor:
    return mfa_service.SecondFactor(code=body.code, recovery_code=body.recovery_code)


@router.post(
    "/totp",
    dependencies=LIMITED,
    responses=problem_responses(
        *ENROLLING, InvalidCredentialsError, MfaAlreadyEnabledError, *BODY_ERRORS
    ),
)
async def enrol_totp(
    body: EnrolRequest,
    principal: EnrollingPrincipal,
    db: DbSession,
    ctx: AuthCtx,
    request: Request,
    response: Response,
) -> EnrolmentOut:
    """Start enrolling an authenticator app: a new secret, inactive until verified."""
    enrolment = await mfa_service.enrol(
        db, ctx, principal=principal, password=body.password, client=_client(request)
    )
    response.headers.update(NO_STORE)
    return EnrolmentOut(
        secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_svg=enrolment.qr_svg
    )


@router.post(
    "/totp/verify",
    dependencies=LIMITED,
    responses=problem_responses(
        *ENROLLING, InvalidMfaCodeError, MfaNotEnrolledError, MfaAlreadyEnabledError, *BODY_ERRORS
    ),
)
async def verify_totp(
    body: VerifyRequest,
    principal: EnrollingPrincipal,
    db: DbSession,
    ctx: AuthCtx,
    request: Request,
    response: Response,
) -> VerifiedOut:
    """Activate the enrolled authenticator with its first code: the recovery codes, and an
    access token of this session carrying the code."""
    verified = await mfa_service.verify_enrolment(
        db, ctx, principal=principal, code=body.code, client=_client(request)
    )
    response.headers.update(NO_STORE)
    return VerifiedOut(
        recovery_codes=verified.recovery_codes,
        access_token=verified.access_token,
        expires_in=verified.expires_in,
    )


@router.post(
    "/challenge",
    dependencies=LIMITED,
    responses=problem_responses(InvalidMfaChallengeError, InvalidMfaCodeError, *BODY_ERRORS),
)
async def answer_challenge(
    body: ChallengeRequest, db: DbSession, ctx: AuthCtx, request: Request, response: Response
) -> SignedInOut:
    """Finish a login of an MFA account: its challenge and a code or a recovery code."""
    result = await mfa_service.answer_challenge(
        db,
        ctx,
        challenge=body.challenge,
        given=mfa_service.SecondFactor(code=body.code, recovery_code=body.recovery_code),
        client=_client(request),
    )
    return signed_in_out(result, response)


@router.post(
    "/step-up",
    dependencies=LIMITED,
    responses=problem_responses(*BEARER, InvalidMfaCodeError, MfaNotEnrolledError, *BODY_ERRORS),
)
async def step_up(
    body: StepUpRequest,
    principal: CurrentPrincipal,
    db: DbSession,
    ctx: AuthCtx,
    request: Request,
    response: Response,
) -> AccessTokenOut:
    """A fresh access token carrying a second factor given now (for actions that need one)."""
    token, expires_in = await mfa_service.step_up(
        db, ctx, principal=principal, given=_factor(body), client=_client(request)
    )
    response.headers.update(NO_STORE)
    return AccessTokenOut(access_token=token, expires_in=expires_in)


@router.post(
    "/recovery-codes",
    dependencies=LIMITED,
    responses=problem_responses(*BEARER, InvalidMfaCodeError, MfaNotEnrolledError, *BODY_ERRORS),
)
async def regenerate_recovery_codes(
    body: RegenerateRequest,
    principal: CurrentPrincipal,
    db: DbSession,
    ctx: AuthCtx,
    request: Request,
    response: Response,
) -> RecoveryCodesOut:
    """Replace the recovery codes (the old ones stop working); needs a fresh second factor."""
    codes = await mfa_service.regenerate_recovery_codes(
        db,
        ctx,
        principal=principal,
        given=_factor(body),
        client=_client(request),
    )
    response.headers.update(NO_STORE)
    return RecoveryCodesOut(recovery_codes=codes)


@router.post(
    "/disable",
    status_code=status.HTTP_204_NO_CONTENT,
    dependencies=LIMITED,
    responses=problem_responses(
        *BEARER,
        InvalidCredentialsError,
        InvalidMfaCodeError,
        MfaNotEnrolledError,
        StepUpRequiredError,
        *BODY_ERRORS,
    ),
)
async def disable(
    body: DisableRequest,
    principal: CurrentPrincipal,
    db: DbSession,
    ctx: AuthCtx,
    request: Request,
) -> Response:
    """Remove the authenticator (password and a code or recovery code); other sessions end."""
    await mfa_service.disable(
        db,
        ctx,
        principal=principal,
        password=body.password,
        given=_factor(body),
        client=_client(request),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
