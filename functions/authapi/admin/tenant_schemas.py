"""The admin API's tenant bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from authapi.admin.tenant_service import TenantRow
from authapi.tenant_scope import TENANT_ID_PATTERN
from authapi.tenants.settings import TenantSettings


class TenantIn(BaseModel):
    id: str = Field(
        pattern=TENANT_ID_PATTERN.pattern,
        description="The tenant's slug, in its paths (/t/{id}/...), issuer and key path; "
        "never changes or comes back once used.",
    )
    name: str = Field(min_length=1, max_length=200)


class TenantOut(BaseModel):
    id: str
    name: str
    status: Literal["active", "disabled"]
    settings: TenantSettings = Field(
        description="What the tenant changes of the deployment's settings; null: the "
        "deployment's value."
    )
    created_at: datetime
    disabled_at: datetime | None

    @classmethod
    def of(cls, row: TenantRow) -> TenantOut:
        return cls(
            id=row.id,
            name=row.name,
            status="disabled" if row.disabled_at is not None else "active",
            settings=row.settings,
            created_at=row.created_at,
            disabled_at=row.disabled_at,
        )


class TenantCreatedOut(TenantOut):
    signing_keys_command: str = Field(
        description="What the operator runs next: the tenant's signing keys, which the API "
        "cannot create (its role only reads SSM). Until then its tokens cannot be issued."
    )


class TenantsOut(BaseModel):
    tenants: list[TenantOut]
