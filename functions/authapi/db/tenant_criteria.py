"""Every ORM statement of a Database's sessions scoped to the current tenant (issue 17).

Isolation as a predicate in each statement, not a `SET` per request (which would pin RDS Proxy
connections): `TenantSession` adds `tenant_id = <current tenant>` for every tenant-owned table
a statement names, on the schema that has the column (authapi.db.tenancy probes it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, with_loader_criteria

from authapi.db.base import Base
from authapi.exceptions import ServiceUnavailableError
from authapi.tenant_scope import (
    DEFAULT_TENANT,
    EVERY_TENANT,
    current_tenant,
    schema_has_tenants,
)


class TenantSession(Session):
    """The sessions of every Database: each ORM statement they run is scoped to the tenant."""


def _tenant_owned() -> tuple[type[Any], ...]:
    """The mapped classes whose table has `tenant_id` (migration 0014's tenant-owned tables);
    read each time (a dozen mappers), so a model imported late is never missed."""
    return tuple(
        mapper.class_ for mapper in Base.registry.mappers if "tenant_id" in mapper.local_table.c
    )


@event.listens_for(TenantSession, "do_orm_execute")
def _scope_to_the_tenant(state: ORMExecuteState) -> None:
    """Add `<table>.tenant_id = <current tenant>` wherever a tenant-owned table appears in a
    SELECT, UPDATE, DELETE or INSERT ... SELECT: its FROM, every join's ON, every subquery and
    every data-modifying CTE (SQLAlchemy's `with_loader_criteria`). Below every repository: a
    statement cannot forget it. What it cannot reach is written by hand: an INSERT's values
    (`tenant_values`), an ON CONFLICT target, and text() SQL (`owned`). A statement that must
    act across tenants (the maintenance purges, the outbox jobs' claims) says so with
    `every_tenant(statement)`; the statement-log test (tests/integration/tenancy) allows only
    those without a tenant predicate."""
    if state.execution_options.get(EVERY_TENANT, False):
        return
    if not schema_has_tenants.get():
        if current_tenant.get() != DEFAULT_TENANT:
            # fail closed: without the column nothing scopes the statement, and an INSERT would
            # land in the default tenant. An environment that probed just before migration 0014
            # (it asks again once a tenant is served: app.py) answers 503 until it knows.
            raise ServiceUnavailableError(
                "This tenant cannot be served until the database upgrade completes."
            )
        return
    if not (state.is_select or state.is_update or state.is_delete or state.is_insert):
        return
    tenant = current_tenant.get()
    state.statement = state.statement.options(
        *(
            with_loader_criteria(owned_class, owned_class.tenant_id == tenant, include_aliases=True)
            for owned_class in _tenant_owned()
        )
    )
