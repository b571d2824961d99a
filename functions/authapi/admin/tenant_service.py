"""The tenants an operator manages through the admin API (issue 17): create, read, change
settings, disable and enable; each write audited in the same statement.

Only the default tenant's administrators get here (tenant_endpoints.py). A tenant's signing keys
are not created here: the API's IAM role may read SSM, never write it, so the operator's CLI
creates them (`SIGNING_KEYS_COMMAND`), as it does the deployment's own.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CTE, exists, literal, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from authapi.admin.service import AdminPrincipal
from authapi.audit import record
from authapi.audit.events import EventType
from authapi.audit.record import AuditEntry, audit_writes
from authapi.auth.principal import AuthContext
from authapi.db.expand import names_a_missing_table
from authapi.exceptions import (
    DefaultTenantFixedError,
    ServiceUnavailableError,
    TenantExistsError,
    TenantNotFoundError,
)
from authapi.models.tenant import Tenant
from authapi.tenant_scope import DEFAULT_TENANT
from authapi.tenants import directory
from authapi.tenants.settings import TenantSettings, parse_tenant_settings, stored_tenant_settings

logger = logging.getLogger(__name__)

NO_SUCH_TENANT = "No tenant has this id."

# what the operator runs after creating a tenant (README, "Tenants"): its signing key under
# <prefix>tenants/<id>/, which the API only reads
SIGNING_KEYS_COMMAND = "make tenant-create TENANT={tenant_id} ENV=<dev|prod>"


@dataclass(frozen=True)
class TenantRow:
    id: str
    name: str
    settings: TenantSettings
    created_at: datetime
    disabled_at: datetime | None


def _row(found: Any) -> TenantRow:
    return TenantRow(
        id=found.id,
        name=found.name,
        settings=stored_tenant_settings(found.settings or {}),
        created_at=found.created_at,
        disabled_at=found.disabled_at,
    )


_COLUMNS = (Tenant.id, Tenant.name, Tenant.settings, Tenant.created_at, Tenant.disabled_at)


def _entry(
    ctx: AuthContext, admin: AdminPrincipal, kind: EventType, details: dict[str, Any]
) -> AuditEntry:
    # no user: the event is about a tenant, named in the details (never a setting's value)
    return AuditEntry(kind, now=ctx.now(), actor=record.admin(admin.user_id), details=details)


def _audit(entry: AuditEntry, target: CTE) -> tuple[CTE, CTE]:
    audit_rows, outbox = audit_writes(entry, when=exists(select(target.c.id)))
    return audit_rows.cte("audit"), outbox.cte("audit_outbox")


async def _execute(db: AsyncSession, statement: Executable) -> Any:
    try:
        return await db.execute(statement)
    except ProgrammingError as error:
        if not names_a_missing_table(error):
            raise
        # the schema before migration 0013 (a deploy under way): no tenants to manage yet
        raise ServiceUnavailableError(
            "Tenants can be managed once this release's migrations have run.",
            retry_after_seconds=60,
        ) from None


async def _changed(db: AsyncSession, target: CTE, *writes: CTE) -> TenantRow | None:
    """The statement whose CTE `target` writes the tenant (RETURNING its columns), with the
    audit rows riding along; the row written, or None when `target` matched none."""
    statement = select(target).add_cte(target, *writes)
    found = (await _execute(db, statement)).one_or_none()
    return None if found is None else _row(found)


def _log(action: str, admin: AdminPrincipal, tenant_id: str) -> None:
    logger.warning(f"admin: {action}", extra={"tenant": tenant_id, "admin_id": str(admin.user_id)})


async def create_tenant(
    db: AsyncSession, ctx: AuthContext, admin: AdminPrincipal, *, tenant_id: str, name: str
) -> TenantRow:
    """A new tenant with the deployment's settings; 409 if the id is taken (or was)."""
    now = ctx.now()
    target = (
        pg_insert(Tenant)
        .values(id=tenant_id, name=name, settings={}, created_at=now)
        .on_conflict_do_nothing(index_elements=[Tenant.id])
        .returning(*_COLUMNS)
        .cte("target")
    )
    entry = _entry(ctx, admin, EventType.TENANT_CREATED, {"tenant_id": tenant_id})
    created = await _changed(db, target, *_audit(entry, target))
    if created is None:
        raise TenantExistsError()
    directory.forget(tenant_id)  # a "no such tenant" this environment cached
    _log("tenant created", admin, tenant_id)
    return created


async def list_tenants(
    db: AsyncSession, ctx: AuthContext, admin: AdminPrincipal
) -> Sequence[TenantRow]:
    """Every tenant, the default first, then by id (a deployment serves a handful, not pages);
    recorded as admin.tenants_listed by the statement that reads."""
    audit_rows, outbox = audit_writes(_entry(ctx, admin, EventType.ADMIN_TENANTS_LISTED, {}))
    statement = (
        select(*_COLUMNS)
        .order_by((Tenant.id != DEFAULT_TENANT), Tenant.id)
        .add_cte(audit_rows.cte("audit"), outbox.cte("audit_outbox"))
    )
    return [_row(found) for found in (await _execute(db, statement)).all()]


async def get_tenant(
    db: AsyncSession,
    *,
    tenant_id: str,
    ctx: AuthContext | None = None,
    admin: AdminPrincipal | None = None,
) -> TenantRow:
    """One tenant; with the admin who asks, recorded as admin.tenant_viewed (a 404 records
    nothing) by the statement that reads."""
    if ctx is None or admin is None:
        statement = select(*_COLUMNS).where(Tenant.id == tenant_id)
        found = (await _execute(db, statement)).one_or_none()
        if found is None:
            raise TenantNotFoundError(NO_SUCH_TENANT)
        return _row(found)
    target = select(*_COLUMNS).where(Tenant.id == tenant_id).cte("target")
    entry = _entry(ctx, admin, EventType.ADMIN_TENANT_VIEWED, {"tenant_id": tenant_id})
    viewed = await _changed(db, target, *_audit(entry, target))
    if viewed is None:
        raise TenantNotFoundError(NO_SUCH_TENANT)
    return viewed


async def change_settings(
    db: AsyncSession,
    ctx: AuthContext,
    admin: AdminPrincipal,
    *,
    tenant_id: str,
    values: dict[str, Any],
) -> TenantRow:
    """Merge `values` into the tenant's settings (a null clears one: the deployment's value
    again), checked against this deployment (TenantSettingsInvalid names every refused field).
    """
    if tenant_id == DEFAULT_TENANT:
        raise DefaultTenantFixedError()
    current = await get_tenant(db, tenant_id=tenant_id)
    merged = {**current.settings.stored(), **values}
    parsed = parse_tenant_settings(ctx.settings, {k: v for k, v in merged.items() if v is not None})
    stored = parsed.stored()
    changed = sorted(
        name
        for name in TenantSettings.model_fields
        if stored.get(name) != current.settings.stored().get(name)
    )
    target = (
        update(Tenant)
        .where(Tenant.id == tenant_id)
        .values(settings=literal(stored, JSONB))
        .returning(*_COLUMNS)
        .cte("target")
    )
    entry = _entry(
        ctx, admin, EventType.TENANT_SETTINGS_CHANGED, {"tenant_id": tenant_id, "changed": changed}
    )
    written = await _changed(db, target, *_audit(entry, target))
    if written is None:
        raise TenantNotFoundError(NO_SUCH_TENANT)
    directory.forget(tenant_id)  # this environment at once; the others within the TTL
    _log("tenant settings changed", admin, tenant_id)
    return written


async def set_disabled(
    db: AsyncSession, ctx: AuthContext, admin: AdminPrincipal, *, tenant_id: str, disabled: bool
) -> TenantRow:
    """Disable (its paths answer as no tenant, its tokens stop verifying) or enable a tenant;
    the default tenant is never disabled. Doing what is done already records nothing."""
    if tenant_id == DEFAULT_TENANT:
        raise DefaultTenantFixedError()
    now = ctx.now()
    target = (
        update(Tenant)
        .where(
            Tenant.id == tenant_id,
            Tenant.disabled_at.is_(None) if disabled else Tenant.disabled_at.is_not(None),
        )
        .values(disabled_at=now if disabled else None)
        .returning(*_COLUMNS)
        .cte("target")
    )
    kind = EventType.TENANT_DISABLED if disabled else EventType.TENANT_ENABLED
    written = await _changed(
        db, target, *_audit(_entry(ctx, admin, kind, {"tenant_id": tenant_id}), target)
    )
    directory.forget(tenant_id)
    if written is None:
        return await get_tenant(db, tenant_id=tenant_id)  # 404, or already so
    _log("tenant disabled" if disabled else "tenant enabled", admin, tenant_id)
    return written


def signing_keys_command(tenant_id: str) -> str:
    return SIGNING_KEYS_COMMAND.format(tenant_id=tenant_id)
