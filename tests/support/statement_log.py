"""Every SQL statement the process sends, and the check of issue 17's isolation: a statement on
a tenant-owned table names `tenant_id`, unless it is marked as acting across every tenant
(authapi.tenant_scope.every_tenant)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

import authapi.models  # noqa: F401  (registers every table on Base.metadata)
from authapi.db.base import Base
from authapi.tenant_scope import EVERY_TENANT

# every table with migration 0014's tenant key, from the models (the migration's own list is
# history and stays as written)
TENANT_OWNED = tuple(table.name for table in Base.metadata.sorted_tables if "tenant_id" in table.c)
_TABLES = "|".join(TENANT_OWNED)
_NAMED = re.compile(r"\b(?:FROM|JOIN|UPDATE|INTO)\s+(" + _TABLES + r")\b", re.IGNORECASE)
# each place a tenant-owned table is read or written, with its alias (FROM users AS users_1)
_USE = re.compile(
    r"\b(FROM|JOIN|UPDATE|INTO)\s+(" + _TABLES + r")\b(?:\s+AS\s+(\w+))?", re.IGNORECASE
)


@dataclass(frozen=True)
class Sent:
    sql: str
    every_tenant: bool = False


def tenant_owned_tables(sql: str) -> set[str]:
    return {match.lower() for match in _NAMED.findall(sql)}


def unscoped_uses(sql: str) -> list[str]:
    """The tables (or aliases) `sql` reads or writes without its own tenant predicate: a read,
    UPDATE or DELETE of `users AS u` needs `u.tenant_id = ...` (a predicate, not the column in
    a select list), an INSERT INTO a table needs `tenant_id` in its column list."""
    missing = []
    for keyword, table, alias in _USE.findall(sql):
        if keyword.upper() == "INTO":
            columns = re.search(rf"\bINTO\s+{table}\s*\(([^)]*)\)", sql, re.IGNORECASE)
            if columns is None or "tenant_id" not in columns.group(1):
                missing.append(table)
        elif not re.search(rf"(?<![\w.]){alias or table}\.tenant_id\s*=", sql):
            missing.append(alias or table)
    return missing


def unscoped(statements: list[Sent]) -> list[str]:
    """The statements on a tenant-owned table one of whose uses lacks its tenant predicate,
    unless marked `every_tenant`."""
    return [sent.sql for sent in statements if not sent.every_tenant and unscoped_uses(sent.sql)]


@contextmanager
def recording() -> Iterator[list[Sent]]:
    """Every statement any engine of this process sends inside the block (SQLAlchemy's
    `before_cursor_execute` on the Engine class: the app's, a mailer's, a maintenance run's)."""
    sent: list[Sent] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        options = getattr(context, "execution_options", None) or {}
        sent.append(Sent(statement, bool(options.get(EVERY_TENANT, False))))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", record)
