"""HTTP routes of /api/v1/admin/tenants (issue 17): the tenants a deployment serves.

Admin tokens only (none: 401; an end-user token: 403 `admin_token_required`), and only the
default tenant's administrators: an administrator of another tenant gets 403
`default_tenant_admin_required`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response, status

from authapi.admin import tenant_service
from authapi.admin.dependencies import CurrentAdmin
from authapi.admin.endpoints import ADMIN_ERRORS
from authapi.admin.service import AdminPrincipal
from authapi.admin.shared_path_route import shared_path_route
from authapi.admin.tenant_schemas import TenantCreatedOut, TenantIn, TenantOut, TenantsOut
from authapi.auth.dependencies import AuthCtx
from authapi.exceptions import (
    DefaultTenantAdminRequiredError,
    DefaultTenantFixedError,
    InvalidRequestError,
    InvalidTenantSettingsError,
    PayloadTooLargeError,
    TenantExistsError,
    TenantNotFoundError,
    UnsupportedMediaTypeError,
)
from authapi.problems import problem_response, problem_responses
from authapi.request_body import require_json_body
from authapi.resources import DbSession
from authapi.tenant_scope import TENANT_ID_PATTERN, is_default_tenant
from authapi.tenants.settings import TenantSettings, TenantSettingsInvalid

router: APIRouter = APIRouter(
    prefix="/api/v1/admin/tenants",
    tags=["admin"],
    route_class=shared_path_route(lambda: router.routes),
)


async def get_operator(admin: CurrentAdmin) -> AdminPrincipal:
    """An administrator of the default tenant: the deployment's operator."""
    if not is_default_tenant():
        raise DefaultTenantAdminRequiredError()
    return admin


Operator = Annotated[AdminPrincipal, Depends(get_operator, scope="function")]
TenantId = Annotated[str, Path(pattern=TENANT_ID_PATTERN.pattern, max_length=32)]
TENANT_ERRORS = (*ADMIN_ERRORS, DefaultTenantAdminRequiredError)
# a route with a body: JSON, labelled as JSON, within the size limit
BODY_ERRORS = (InvalidRequestError, UnsupportedMediaTypeError, PayloadTooLargeError)
JSON_BODY = [Depends(require_json_body)]
# the PATCH body is checked by authapi.tenants.settings (its own 422 code, every field named),
# so OpenAPI is told its schema here
SETTINGS_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": TenantSettings.model_json_schema()}},
    }
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=JSON_BODY,
    responses=problem_responses(*TENANT_ERRORS, *BODY_ERRORS, TenantExistsError),
)
async def create_tenant(
    body: TenantIn, operator: Operator, db: DbSession, ctx: AuthCtx
) -> TenantCreatedOut:
    """Create a tenant with the deployment's settings; its signing keys come from the CLI."""
    row = await tenant_service.create_tenant(db, ctx, operator, tenant_id=body.id, name=body.name)
    return TenantCreatedOut(
        **TenantOut.of(row).model_dump(),
        signing_keys_command=tenant_service.signing_keys_command(row.id),
    )


@router.get("", responses=problem_responses(*TENANT_ERRORS, validates_body=False))
async def list_tenants(operator: Operator, db: DbSession, ctx: AuthCtx) -> TenantsOut:
    """Every tenant, the default first."""
    rows = await tenant_service.list_tenants(db, ctx, operator)
    return TenantsOut(tenants=[TenantOut.of(row) for row in rows])


@router.get("/{tenant_id}", responses=problem_responses(*TENANT_ERRORS, TenantNotFoundError))
async def get_tenant(
    tenant_id: TenantId, operator: Operator, db: DbSession, ctx: AuthCtx
) -> TenantOut:
    """One tenant, with the settings it changes."""
    row = await tenant_service.get_tenant(db, tenant_id=tenant_id, ctx=ctx, admin=operator)
    return TenantOut.of(row)


@router.patch(
    "/{tenant_id}/settings",
    response_model=TenantOut,
    dependencies=JSON_BODY,
    responses=problem_responses(
        *TENANT_ERRORS,
        *BODY_ERRORS,
        TenantNotFoundError,
        DefaultTenantFixedError,
        InvalidTenantSettingsError,
    ),
    openapi_extra=SETTINGS_BODY,
)
async def change_settings(
    tenant_id: TenantId,
    values: Annotated[dict[str, Any], Body()],
    operator: Operator,
    db: DbSession,
    ctx: AuthCtx,
    request: Request,
) -> Response | TenantOut:
    """Change some of the tenant's settings (null: the deployment's value again)."""
    try:
        row = await tenant_service.change_settings(
            db, ctx, operator, tenant_id=tenant_id, values=values
        )
    except TenantSettingsInvalid as refused:
        return problem_response(
            InvalidTenantSettingsError(str(refused)),
            path=request.scope.get("path"),
            errors=[{"loc": ["body", field], "msg": why} for field, why in refused.problems],
        )
    return TenantOut.of(row)


@router.post(
    "/{tenant_id}/disable",
    responses=problem_responses(*TENANT_ERRORS, TenantNotFoundError, DefaultTenantFixedError),
)
async def disable_tenant(
    tenant_id: TenantId, operator: Operator, db: DbSession, ctx: AuthCtx
) -> TenantOut:
    """Disable the tenant: its paths answer as no tenant's, its tokens stop verifying."""
    row = await tenant_service.set_disabled(db, ctx, operator, tenant_id=tenant_id, disabled=True)
    return TenantOut.of(row)


@router.post(
    "/{tenant_id}/enable",
    responses=problem_responses(*TENANT_ERRORS, TenantNotFoundError, DefaultTenantFixedError),
)
async def enable_tenant(
    tenant_id: TenantId, operator: Operator, db: DbSession, ctx: AuthCtx
) -> TenantOut:
    """Enable the tenant again."""
    row = await tenant_service.set_disabled(db, ctx, operator, tenant_id=tenant_id, disabled=False)
    return TenantOut.of(row)
