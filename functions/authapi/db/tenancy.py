"""Whether the connected schema has the tenant keys (migration 0014), probed once per Database.

`authapi.tenant_scope.owned` and `tenant_values` name `tenant_id` only where the columns exist:
the previous release's schema lacks them, and this code must run there too (only the default
tenant exists on it). One catalogue query on a Database's first session answers it: True is kept
for the life of the execution environment, False is asked again at most once a minute (the
deploy's hook may migrate while an environment lives). A request therefore pays for it only when
it is the first of its environment (or of a minute on the old schema): the statement budget,
measured on warm environments, never sees it.
"""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.db.engine import Database
from authapi.tenant_scope import every_tenant, schema_has_tenants

REPROBE_SECONDS = 60.0
# `users` stands for every tenant-owned table: migration 0014 adds the column to all at once
_PROBE = text(
    "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass('users') "
    "AND attname = 'tenant_id' AND NOT attisdropped)"
)


async def scope_schema(database: Database, session: AsyncSession) -> None:
    """Set `schema_has_tenants` for what runs on `session`, probing the schema if not known."""
    known = database.schema_has_tenants
    # a cache's age, not a decision on user data: no injectable clock
    now = time.monotonic()
    if known is None or (not known and now - database.schema_probed_at >= REPROBE_SECONDS):
        # every_tenant: the catalogue is no tenant's, and it runs while the answer is unknown
        known = bool(await session.scalar(every_tenant(_PROBE)))
        database.schema_has_tenants = known
        database.schema_probed_at = now
    schema_has_tenants.set(known)
