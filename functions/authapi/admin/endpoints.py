"""HTTP routes of /api/v1/admin (issue 17): admin tokens, accounts, the audit trail.

Every route but the token's takes an admin token only (admin/dependencies.py): none at all is
401, a valid end-user token 403 `admin_token_required`.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status

from authapi.abuse.rate_limit import LOGIN, rate_limited
from authapi.admin import repository, service
from authapi.admin.dependencies import AdminApplicant, CurrentAdmin
from authapi.admin.schemas import AdminTokenOut, AdminTokenRequest, AdminUserOut, AdminUsersOut
from authapi.admin.shared_path_route import shared_path_route
from authapi.audit import reader
from authapi.audit.events import ActorKind
from authapi.audit.schemas import EventsOut
from authapi.auth import mfa_service
from authapi.auth.dependencies import AuthCtx
from authapi.auth.endpoints import BODY_ERRORS
from authapi.client_address import client_ip
from authapi.exceptions import (
    AccountDisabledError,
    AdminRoleRequiredError,
    AdminTokenRequiredError,
    AuthenticationError,
    ClientAddressUnknownError,
    EmailAlreadyVerifiedError,
    InvalidAccessTokenError,
    InvalidCursorError,
    InvalidMfaCodeError,
    MfaEnrolmentRequiredError,
    MfaNotEnrolledError,
    OwnAccountError,
    TooManyAttemptsError,
    UserNotFoundError,
)
from authapi.problems import problem_responses
from authapi.request_body import require_json_body
from authapi.resources import DbSession, OutboxNotifierDep

router: APIRouter = APIRouter(
    prefix="/api/v1/admin", tags=["admin"], route_class=shared_path_route(lambda: router.routes)
)

# what every admin-token route may answer before it does anything
ADMIN_ERRORS = (
    AuthenticationError,
    InvalidAccessTokenError,
    AdminTokenRequiredError,
    AdminRoleRequiredError,
    MfaEnrolmentRequiredError,
)
NO_CONTENT = status.HTTP_204_NO_CONTENT
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _no_content() -> Response:
    return Response(status_code=NO_CONTENT)


def _client(request: Request) -> str:
    client = client_ip(request.scope)
    if client is None:  # the rate limit refuses it first; this keeps the type honest
        raise ClientAddressUnknownError()
    return client


@router.post(
    "/token",
    # a code is guessed like a password: the login endpoint's rate limit, as MFA step-up's
    dependencies=[rate_limited(LOGIN), Depends(require_json_body)],
    responses=problem_responses(
        AuthenticationError,
        InvalidAccessTokenError,
        InvalidMfaCodeError,
        AdminRoleRequiredError,
        MfaEnrolmentRequiredError,
        MfaNotEnrolledError,
        *BODY_ERRORS,
    ),
)
async def admin_token(
    applicant: AdminApplicant,
    body: AdminTokenRequest,
    db: DbSession,
    ctx: AuthCtx,
    request: Request,
    response: Response,
) -> AdminTokenOut:
    """An admin token (15 minutes at most, no refresh token) for an admin's own token and a
    second factor given now (a current authenticator code or a recovery code)."""
    given = mfa_service.SecondFactor(code=body.code, recovery_code=body.recovery_code)
    issued = await service.issue_token(
        db, ctx, applicant=applicant, given=given, client=_client(request)
    )
    response.headers.update(NO_STORE)
    return AdminTokenOut(access_token=issued.access_token, expires_in=issued.expires_in)


@router.get("/users", responses=problem_responses(*ADMIN_ERRORS, InvalidCursorError))
async def list_users(
    admin: CurrentAdmin,
    db: DbSession,
    ctx: AuthCtx,
    email: Annotated[
        str | None, Query(max_length=320, description="Addresses starting with this.")
    ] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    status: Annotated[repository.Status | None, Query()] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=repository.MAX_PAGE)] = 50,
) -> AdminUsersOut:
    """Accounts, newest first, filtered by address prefix, creation time and status (the read
    is recorded, with the filters' names: admin.users_listed)."""
    filters = repository.UserFilter(
        email_prefix=email.strip().lower() if email else None,
        created_after=created_after,
        created_before=created_before,
        status=status,
    )
    page = await service.list_users(db, ctx, admin, filters=filters, cursor=cursor, limit=limit)
    return AdminUsersOut(
        users=[AdminUserOut.of(row) for row in page.users], next_cursor=page.next_cursor
    )


@router.get(
    "/users/{user_id}",
    responses=problem_responses(*ADMIN_ERRORS, UserNotFoundError),
)
async def get_user(
    user_id: uuid.UUID, admin: CurrentAdmin, db: DbSession, ctx: AuthCtx
) -> AdminUserOut:
    """One account (the view is recorded: admin.user_viewed)."""
    return AdminUserOut.of(await service.get_user(db, ctx, admin, user_id=user_id))


@router.post(
    "/users/{user_id}/disable",
    status_code=NO_CONTENT,
    responses=problem_responses(*ADMIN_ERRORS, UserNotFoundError, OwnAccountError),
)
async def disable_user(
    user_id: uuid.UUID, admin: CurrentAdmin, db: DbSession, ctx: AuthCtx
) -> Response:
    """Disable the account: every session ends at once, in the same statement."""
    await service.set_active(db, ctx, admin, user_id=user_id, active=False)
    return _no_content()


@router.post(
    "/users/{user_id}/enable",
    status_code=NO_CONTENT,
    responses=problem_responses(*ADMIN_ERRORS, UserNotFoundError),
)
async def enable_user(
    user_id: uuid.UUID, admin: CurrentAdmin, db: DbSession, ctx: AuthCtx
) -> Response:
    """Enable the account again; its old sessions stay ended."""
    await service.set_active(db, ctx, admin, user_id=user_id, active=True)
    return _no_content()


@router.post(
    "/users/{user_id}/logout",
    status_code=NO_CONTENT,
    responses=problem_responses(*ADMIN_ERRORS, UserNotFoundError),
)
async def logout_user(
    user_id: uuid.UUID, admin: CurrentAdmin, db: DbSession, ctx: AuthCtx
) -> Response:
    """End every session of the account: its refresh and access tokens stop working."""
    await service.log_out(db, ctx, admin, user_id=user_id)
    return _no_content()


@router.delete(
    "/users/{user_id}",
    status_code=NO_CONTENT,
    responses=problem_responses(*ADMIN_ERRORS, UserNotFoundError, OwnAccountError),
)
async def delete_user(
    user_id: uuid.UUID, admin: CurrentAdmin, db: DbSession, ctx: AuthCtx
) -> Response:
    """Delete the account, its sessions and tokens; its audit history stays."""
    await service.delete_user(db, ctx, admin, user_id=user_id)
    return _no_content()


@router.post(
    "/users/{user_id}/mfa/reset",
    status_code=NO_CONTENT,
    responses=problem_responses(
        *ADMIN_ERRORS, UserNotFoundError, OwnAccountError, MfaNotEnrolledError
    ),
)
async def reset_mfa(
    user_id: uuid.UUID, admin: CurrentAdmin, db: DbSession, ctx: AuthCtx
) -> Response:
    """Remove the account's authenticator and recovery codes, and end every session."""
    await service.reset_mfa(db, ctx, admin, user_id=user_id)
    return _no_content()


@router.post(
    "/users/{user_id}/verification/resend",
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(
        *ADMIN_ERRORS,
        UserNotFoundError,
        AccountDisabledError,
        EmailAlreadyVerifiedError,
        TooManyAttemptsError,
    ),
)
async def resend_verification(
    user_id: uuid.UUID,
    admin: CurrentAdmin,
    db: DbSession,
    ctx: AuthCtx,
    notifier: OutboxNotifierDep,
) -> Response:
    """Send the account a new verification code and link (through the mail outbox), throttled
    per address like the user-facing resend (429 `too_many_attempts`)."""
    await service.resend_verification(db, ctx, admin, user_id=user_id, notifier=notifier)
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.get("/events", responses=problem_responses(*ADMIN_ERRORS, InvalidCursorError))
async def list_events(
    admin: CurrentAdmin,
    db: DbSession,
    ctx: AuthCtx,
    user_id: uuid.UUID | None = None,
    type: Annotated[list[str] | None, Query(description="Only these event types.")] = None,
    actor_kind: ActorKind | None = None,
    actor_id: uuid.UUID | None = None,
    since: Annotated[datetime | None, Query(description="Occurred at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Occurred before.")] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=reader.MAX_PAGE)] = 50,
) -> EventsOut:
    """The audit trail, newest first, filtered by account, type, actor and time (the read is
    recorded, with the filters' names: admin.events_read)."""
    filters = reader.EventFilter(
        user_id=user_id,
        types=tuple(type or ()),
        since=since,
        until=until,
        actor_kind=actor_kind,
        actor_id=actor_id,
    )
    page = await service.list_events(db, ctx, admin, filters=filters, cursor=cursor, limit=limit)
    return EventsOut.of(page)
