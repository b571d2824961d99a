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


# Each tenant's criteria, built once for the tenant-owned classes they were built for: building
# them (an expression and an option per class) took about 0.1 ms of every ORM statement, more
# than the rest of the scoping. The options are immutable, the tenant's id a bound value in them.
# Keyed by the classes too, so a model imported later gets a new entry with its criterion;
# cleared when full, like the tenant directory's cache (only served tenants reach a statement).
MAX_CACHED_TENANTS = 1024
_criteria: dict[tuple[str, tuple[type[Any], ...]], tuple[Any, ...]] = {}


def _criteria_for(tenant: str) -> tuple[Any, ...]:
    owned = _tenant_owned()
    key = (tenant, owned)
    options = _criteria.get(key)
    if options is None:
        if len(_criteria) >= MAX_CACHED_TENANTS:
            _criteria.clear()
        options = tuple(
            with_loader_criteria(owned_class, owned_class.tenant_id == tenant, include_aliases=True)
            for owned_class in owned
        )
        _criteria[key] = options
    return options


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
    state.statement = state.statement.options(*_criteria_for(current_tenant.get()))
