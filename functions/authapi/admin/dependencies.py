"""The admin credential of a request: the bearer token, verified as an admin token and checked
live (role, active account, live session, second factor) in one statement; and the caller of
POST /api/v1/admin/token, checked the same way before the code it sends is."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from authapi.admin import service
from authapi.auth.dependencies import AuthCtx, BearerToken, CurrentPrincipal
from authapi.auth.principal import Principal
from authapi.resources import DbSession


async def get_admin(db: DbSession, ctx: AuthCtx, token: BearerToken) -> service.AdminPrincipal:
    return await service.authenticate(db, ctx, admin_token=token)


CurrentAdmin = Annotated[service.AdminPrincipal, Depends(get_admin, scope="function")]


async def get_applicant(db: DbSession, ctx: AuthCtx, principal: CurrentPrincipal) -> Principal:
    """The caller asking for an admin token, checked (role, factor) before its body is read:
    the 401s and 403s come before the body's 422."""
    await service.check_applicant(db, ctx, principal=principal)
    return principal


AdminApplicant = Annotated[Principal, Depends(get_applicant, scope="function")]
