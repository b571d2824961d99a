"""Auth dependencies: the flows' context and the caller behind a bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer
from starlette.requests import HTTPConnection

from authapi.auth import principal
from authapi.config import Settings
from authapi.exceptions import AuthenticationError
from authapi.resources import DbSession, app_resources
from authapi.tenants.settings import tenant_settings

# auto_error=False: a missing token is our own 401 problem, not FastAPI's plain one. The scheme
# still documents itself in OpenAPI, which is what gives /docs its "Authorize" button.
bearer_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)


async def get_auth_context(connection: HTTPConnection) -> principal.AuthContext:
    # the resources read here, not through SettingsDep, HashingDep, ...: FastAPI resolves each
    # sub-dependency on every request, four resolutions for four field reads
    resources = app_resources(connection.app)
    return principal.AuthContext(
        # the current tenant's (authapi.tenants.settings): password minimum, MFA required,
        # token lifetimes; the deployment's own for the default tenant
        settings=await tenant_settings(resources.database, resources.settings),
        hashing=resources.hashing,
        key_ring=await resources.key_provider.key_ring(),
        key_provider=resources.key_provider,
        clock=resources.clock,
    )


AuthCtx = Annotated[principal.AuthContext, Depends(get_auth_context)]


async def get_tenant_settings(connection: HTTPConnection) -> Settings:
    resources = app_resources(connection.app)
    return await tenant_settings(resources.database, resources.settings)


# the current tenant's effective settings, for a route that needs them without the flows' context
TenantSettingsDep = Annotated[Settings, Depends(get_tenant_settings)]


async def get_bearer_token(token: Annotated[str | None, Depends(bearer_scheme)]) -> str:
    """The bearer token, not yet verified: for a flow that checks it in its own statement."""
    if not token:
        raise AuthenticationError()
    return token


BearerToken = Annotated[str, Depends(get_bearer_token)]


async def get_principal(db: DbSession, ctx: AuthCtx, token: BearerToken) -> principal.Principal:
    return await principal.authenticate(db, ctx, access_token=token)


CurrentPrincipal = Annotated[principal.Principal, Depends(get_principal, scope="function")]


async def get_enrolling_principal(
    db: DbSession, ctx: AuthCtx, token: BearerToken
) -> principal.Principal:
    return await principal.authenticate(db, ctx, access_token=token, accept_enrol=True)


# the MFA enrolment endpoints only: an enrol-only token (AUTHAPI_MFA_REQUIRED) is accepted too
EnrollingPrincipal = Annotated[
    principal.Principal, Depends(get_enrolling_principal, scope="function")
]
