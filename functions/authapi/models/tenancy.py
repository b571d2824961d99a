"""The tenant key every tenant-owned table carries (migration 0014), in one place.

`tenant_id` is deferred and raises if lazily loaded: `select(User)` must not name it, so the ORM
also runs on the schema before 0014 (the previous release's), where the column does not exist.
Statements name it only through `authapi.tenant_scope` (`owned`, `tenant_values`), which leave
it out on that schema. Primary keys stay `id` (app-made uuids, or hashes of random tokens: unique
across tenants by construction), so the ORM's identity stays one column; a parent also gets
UNIQUE (tenant_id, id), which its children's composite foreign keys reference: a row can never
point at another tenant's parent.
"""

from typing import Any

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, String, UniqueConstraint, text
from sqlalchemy.orm import MappedColumn, deferred, mapped_column

TENANT_ID_LENGTH = 32
DEFAULT_TENANT_SQL = "'default'"


def tenant_id_column(*, references_tenants: bool = False) -> Any:
    """The `tenant_id` column: NOT NULL DEFAULT 'default' (what the previous release's inserts
    get). Only `users` references `tenants` itself; every other table reaches it through its
    parent's composite key."""
    references = (ForeignKey("tenants.id", name="fk_users_tenant_id_tenants"),)
    column: MappedColumn[str] = mapped_column(
        String(TENANT_ID_LENGTH),
        *(references if references_tenants else ()),
        nullable=False,
        server_default=text(DEFAULT_TENANT_SQL),
    )
    return deferred(column, raiseload=True)


def tenant_key(table: str) -> UniqueConstraint:
    """UNIQUE (tenant_id, id): what the children's composite foreign keys reference."""
    return UniqueConstraint("tenant_id", "id", name=f"uq_{table}_tenant_id_id")


def tenant_unique(table: str, column: str) -> UniqueConstraint:
    """A unique constraint with tenant_id leading, under the name it had before 0014 (so the
    error mappings by name, in this release and the previous one, still find it)."""
    return UniqueConstraint("tenant_id", column, name=f"uq_{table}_{column}")


def lookup_without_tenant(table: str, column: str) -> Index:
    """A plain index on `column` beside its (tenant_id, column) unique constraint: the previous
    release looks accounts and tokens up by `column` alone, which the new constraint cannot serve
    without a skip scan (PostgreSQL 15-17 have none: a sequential scan of users at each login).
    Dropped by a later contract migration, once no release without tenant predicates runs."""
    return Index(f"ix_{table}_{column}", column)


def owned_by(
    table: str, column: str, parent: str, *, ondelete: str = "CASCADE"
) -> ForeignKeyConstraint:
    """(tenant_id, column) -> parent (tenant_id, id), under the name the single-column foreign
    key had before 0014."""
    return ForeignKeyConstraint(
        ["tenant_id", column],
        [f"{parent}.tenant_id", f"{parent}.id"],
        ondelete=ondelete,
        name=f"fk_{table}_{column}_{parent}",
    )
