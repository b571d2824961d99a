"""The tenants a deployment serves, cached per execution environment with a short TTL.

Every request under `/t/{tenant}/...` asks whether its tenant exists and is enabled, and a
flow asks for its tenant's settings: one query per tenant per TTL, not one per request. An
admin change (create, disable, new settings) reaches other environments within the TTL; the
environment that made it forgets its copy at once (`forget`).

On the schema before migration 0013 there is no `tenants` table: only the default tenant
exists, with the deployment's settings.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import ProgrammingError

from authapi.db.engine import Database
from authapi.db.session import request_session
from authapi.models.tenant import Tenant
from authapi.tenant_scope import DEFAULT_TENANT

CACHE_SECONDS = 30.0
# anyone may ask for /t/<any id>/: past this many entries the expired ones go, and past it still
# an unknown id's answer is not kept (a warm environment's memory must not grow per request)
MAX_ENTRIES = 1024


@dataclass(frozen=True)
class TenantRecord:
    id: str
    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    disabled: bool = False


DEFAULT_RECORD = TenantRecord(id=DEFAULT_TENANT, name="Default")

# tenant id -> (record or None for "no such tenant", monotonic time it was read)
_cache: dict[str, tuple[TenantRecord | None, float]] = {}


async def find_tenant(database: Database, tenant_id: str) -> TenantRecord | None:
    """The tenant, or None when there is none by that id (a disabled one is returned: the
    caller decides what disabled means for it)."""
    cached = _cache.get(tenant_id)
    now = time.monotonic()  # a cache's age, not a decision on user data: no injectable clock
    if cached is not None and now - cached[1] < CACHE_SECONDS:
        return cached[0]
    record = await _read(database, tenant_id)
    remember(tenant_id, record, now)
    return record


def remember(tenant_id: str, record: TenantRecord | None, now: float) -> None:
    if len(_cache) >= MAX_ENTRIES:
        for stale in [
            key for key, (_, read_at) in _cache.items() if now - read_at >= CACHE_SECONDS
        ]:
            del _cache[stale]
    if len(_cache) >= MAX_ENTRIES:
        if record is None:
            return  # an unknown id: asked again next time rather than held
        for unknown in [key for key, (known, _) in _cache.items() if known is None]:
            del _cache[unknown]
    if len(_cache) < MAX_ENTRIES:
        _cache[tenant_id] = (record, now)


def cached_ids() -> list[str]:
    """The ids this environment holds an answer for (oldest first)."""
    return list(_cache)


def forget(tenant_id: str | None = None) -> None:
    """Drop the cached copy of one tenant (or all): after this environment changed it."""
    if tenant_id is None:
        _cache.clear()
    else:
        _cache.pop(tenant_id, None)


async def _read(database: Database, tenant_id: str) -> TenantRecord | None:
    statement = select(Tenant.id, Tenant.name, Tenant.settings, Tenant.disabled_at).where(
        Tenant.id == tenant_id
    )
    async with request_session(database) as session:
        try:
            row = (await session.execute(statement)).one_or_none()
        except ProgrammingError as error:
            if "tenants" not in str(error.orig):
                raise
            # the schema before migration 0013: the deployment is its default tenant
            return DEFAULT_RECORD if tenant_id == DEFAULT_TENANT else None
    if row is None:
        return None
    return TenantRecord(
        id=row.id,
        name=row.name,
        settings=dict(row.settings or {}),
        disabled=row.disabled_at is not None,
    )
