"""The admin credential of a request: the bearer token, verified as an admin token and checked
live (role, active account, live session, second factor) in one statement."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from authapi.admin import service
from authapi.auth.dependencies import AuthCtx, BearerToken
from authapi.resources import DbSession


async def get_admin(db: DbSession, ctx: AuthCtx, token: BearerToken) -> service.AdminPrincipal:
    return await service.authenticate(db, ctx, admin_token=token)


CurrentAdmin = Annotated[service.AdminPrincipal, Depends(get_admin, scope="function")]
