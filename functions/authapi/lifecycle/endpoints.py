"""HTTP routes of the account lifecycle, under /api/v1/auth (issue 13). No GET spends anything:
links open the web app, which POSTs the token from the link's fragment."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response, status

from authapi.abuse.rate_limit import ACCOUNT_TOKEN, MAIL, PASSWORD_CHECK, rate_limited
from authapi.auth.dependencies import AuthCtx, BearerToken
from authapi.auth.endpoints import BODY_ERRORS
from authapi.exceptions import (
    AuthenticationError,
    EmailTakenError,
    InvalidAccessTokenError,
    InvalidAccountTokenError,
    MfaEnrolmentRequiredError,
    SameEmailError,
    StepUpRequiredError,
    WeakPasswordError,
    WrongPasswordError,
)
from authapi.lifecycle import service
from authapi.lifecycle.schemas import (
    AcceptedOut,
    ChangeEmailRequest,
    ChangePasswordRequest,
    EmailRequest,
    PasswordRequest,
    ResetPasswordRequest,
    TokenRequest,
    VerifyEmailRequest,
    VerifyWithToken,
)
from authapi.problems import problem_responses
from authapi.request_body import require_json_body
from authapi.resources import DbSession, OutboxNotifierDep

router = APIRouter(prefix="/api/v1/auth", tags=["account"])

BEARER_ERRORS = (AuthenticationError, InvalidAccessTokenError, MfaEnrolmentRequiredError)
NO_CONTENT = status.HTTP_204_NO_CONTENT


def _no_content() -> Response:
    return Response(status_code=NO_CONTENT)


@router.post(
    "/email/verify",
    status_code=NO_CONTENT,
    dependencies=[rate_limited(ACCOUNT_TOKEN), Depends(require_json_body)],
    responses=problem_responses(InvalidAccountTokenError, *BODY_ERRORS),
)
async def verify_email(body: VerifyEmailRequest, db: DbSession, ctx: AuthCtx) -> Response:
    """Confirm the account's address with the link's token, or with the address and its code."""
    if isinstance(body, VerifyWithToken):
        await service.verify_email(db, ctx, token=body.token)
    else:
        await service.verify_email(db, ctx, email=body.email, code=body.code)
    return _no_content()


@router.post(
    "/email/verify/resend",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[rate_limited(MAIL), Depends(require_json_body)],
    responses=problem_responses(*BODY_ERRORS),
)
async def resend_verification(
    body: EmailRequest, db: DbSession, ctx: AuthCtx, notifier: OutboxNotifierDep
) -> AcceptedOut:
    """Send a new code and link, if the address has an unverified account (the same 202 if not)."""
    await service.resend_verification(db, ctx, email=body.email, notifier=notifier)
    return AcceptedOut()


@router.post(
    "/password/forgot",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[rate_limited(MAIL), Depends(require_json_body)],
    responses=problem_responses(*BODY_ERRORS),
)
async def forgot_password(
    body: EmailRequest, db: DbSession, ctx: AuthCtx, notifier: OutboxNotifierDep
) -> AcceptedOut:
    """Send a password reset link, if the address has an account (the same 202 if not)."""
    await service.forgot_password(db, ctx, email=body.email, notifier=notifier)
    return AcceptedOut()


@router.post(
    "/password/reset",
    status_code=NO_CONTENT,
    dependencies=[rate_limited(ACCOUNT_TOKEN), Depends(require_json_body)],
    responses=problem_responses(InvalidAccountTokenError, WeakPasswordError, *BODY_ERRORS),
)
async def reset_password(
    body: ResetPasswordRequest, db: DbSession, ctx: AuthCtx, notifier: OutboxNotifierDep
) -> Response:
    """Set a new password with a reset link's token; every session ends, nobody is signed in."""
    await service.reset_password(
        db, ctx, token=body.token, new_password=body.new_password, notifier=notifier
    )
    return _no_content()


@router.post(
    "/password/change",
    status_code=NO_CONTENT,
    dependencies=[rate_limited(PASSWORD_CHECK), Depends(require_json_body)],
    responses=problem_responses(
        WrongPasswordError, WeakPasswordError, StepUpRequiredError, *BEARER_ERRORS, *BODY_ERRORS
    ),
)
async def change_password(
    body: ChangePasswordRequest,
    token: BearerToken,
    db: DbSession,
    ctx: AuthCtx,
    notifier: OutboxNotifierDep,
) -> Response:
    """Change the password; every other session ends, this one stays."""
    await service.change_password(
        db,
        ctx,
        access_token=token,
        current_password=body.current_password,
        new_password=body.new_password,
        notifier=notifier,
    )
    return _no_content()


@router.post(
    "/email/change",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[rate_limited(PASSWORD_CHECK), Depends(require_json_body)],
    responses=problem_responses(
        WrongPasswordError, SameEmailError, StepUpRequiredError, *BEARER_ERRORS, *BODY_ERRORS
    ),
)
async def change_email(
    body: ChangeEmailRequest,
    token: BearerToken,
    db: DbSession,
    ctx: AuthCtx,
    notifier: OutboxNotifierDep,
) -> AcceptedOut:
    """Ask to change the address: a confirmation goes to the new one, a notice to the old."""
    await service.request_email_change(
        db,
        ctx,
        access_token=token,
        new_email=body.new_email,
        password=body.password,
        notifier=notifier,
    )
    return AcceptedOut()


@router.post(
    "/email/change/confirm",
    status_code=NO_CONTENT,
    dependencies=[rate_limited(ACCOUNT_TOKEN), Depends(require_json_body)],
    responses=problem_responses(InvalidAccountTokenError, EmailTakenError, *BODY_ERRORS),
)
async def confirm_email_change(body: TokenRequest, db: DbSession, ctx: AuthCtx) -> Response:
    """Apply an email change with the confirmation's token (the address must still be free)."""
    await service.confirm_email_change(db, ctx, token=body.token)
    return _no_content()


@router.post(
    "/me/delete",
    status_code=NO_CONTENT,
    dependencies=[rate_limited(PASSWORD_CHECK), Depends(require_json_body)],
    responses=problem_responses(
        WrongPasswordError, StepUpRequiredError, *BEARER_ERRORS, *BODY_ERRORS
    ),
)
async def delete_account(
    body: PasswordRequest,
    token: BearerToken,
    db: DbSession,
    ctx: AuthCtx,
    notifier: OutboxNotifierDep,
) -> Response:
    """Delete the account, its sessions and tokens, for good; a notice goes to its address."""
    await service.delete_account(
        db, ctx, access_token=token, password=body.password, notifier=notifier
    )
    return _no_content()
