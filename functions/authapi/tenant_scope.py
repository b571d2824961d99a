"""Which tenant (realm) a request or job acts for, and whether the schema knows tenants yet.

One ContextVar, set by the tenant path middleware (`/t/{tenant}/...`) for a request and by a job
for each tenant it works on; the default tenant everywhere else, so a single-tenant deployment
keeps today's paths and behaviour. Every statement on a tenant-owned table takes its tenant from
here (`owned`, `tenant_values`): isolation is a predicate in the SQL, not a `SET` per request,
which would pin RDS Proxy connections.

`schema_has_tenants` says whether the connected schema has the `tenant_id` columns (migration
0014): the previous release's schema does not, and this code must still run on it; there only the
default tenant exists.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from typing import Any, TypeVar

DEFAULT_TENANT = "default"
# a path segment and part of an issuer URL and an SSM path: lower case, digits, hyphens
TENANT_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")

current_tenant: ContextVar[str] = ContextVar("current_tenant", default=DEFAULT_TENANT)
# set once per database by authapi.db (a probe of the catalogue); False until then
schema_has_tenants: ContextVar[bool] = ContextVar("schema_has_tenants", default=False)


# the execution option of a statement that acts across tenants on purpose (`every_tenant`)
EVERY_TENANT = "every_tenant"

_S = TypeVar("_S")


def valid_tenant_id(value: str) -> bool:
    return bool(TENANT_ID_PATTERN.match(value))


def tenant() -> str:
    return current_tenant.get()


def is_default_tenant() -> bool:
    return current_tenant.get() == DEFAULT_TENANT


def owned(column: Any) -> Any:
    """The predicate `<table>.tenant_id = <current tenant>` for `column` (a table's `tenant_id`),
    or `true()` on a schema without tenants (only the default tenant exists there)."""
    from sqlalchemy import true  # deferred: this module sits below the database layer

    if not schema_has_tenants.get():
        return true()
    return column == current_tenant.get()


def tenant_values() -> dict[str, str]:
    """The `tenant_id` value for an INSERT, or nothing on a schema without tenants."""
    if not schema_has_tenants.get():
        return {}
    return {"tenant_id": current_tenant.get()}


def every_tenant(statement: _S) -> _S:
    """Mark `statement` as acting across every tenant on purpose (a maintenance purge by age, the
    outbox jobs' claims): authapi.db adds no tenant predicate to it, and the statement-log test
    allows it. A job that then acts on one row does so in that row's tenant (`current_tenant`)."""
    marked: _S = statement.execution_options(**{EVERY_TENANT: True})  # type: ignore[attr-defined]
    return marked


def tenant_selected() -> tuple[list[str], list[Any]]:
    """The `tenant_id` column name and value for an INSERT ... SELECT, or nothing on a schema
    without tenants: `insert(T).from_select([*names, ...], select(*values, ...))`."""
    from sqlalchemy import String, literal

    if not schema_has_tenants.get():
        return [], []
    return ["tenant_id"], [literal(current_tenant.get(), String())]
