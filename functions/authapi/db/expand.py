"""Statements that serve the schema both before and after a migration that only adds columns.

A deploy migrates and shifts traffic in either order only if each release works on both schemas
(expand/contract). A statement that names a column the schema lacks fails at PostgreSQL's parse,
before it touches a row, so sending it again without those columns is safe; on the newer schema
(every deploy after the migration) the first attempt simply succeeds and costs nothing more.
Request sessions only: they autocommit, whereas a transaction would be aborted by the failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Executable, Result
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

UNDEFINED_COLUMN = "42703"
UNDEFINED_TABLE = "42P01"


def names_a_missing_table(error: ProgrammingError) -> bool:
    """The statement named a table the schema has not got yet (a migration adding it is not
    applied): like a missing column, refused at parse, before it touched a row."""
    return getattr(error.orig, "sqlstate", None) == UNDEFINED_TABLE


def names_a_missing_column(error: ProgrammingError) -> bool:
    return getattr(error.orig, "sqlstate", None) == UNDEFINED_COLUMN


async def execute_on_either_schema(
    db: AsyncSession,
    statement: Callable[[bool], Executable],
    parameters: Mapping[str, Any] | None = None,
) -> Result[object]:
    """Run `statement(True)`, which uses the newest columns; where the schema has not got them
    yet, run `statement(False)`, which does without (a parameter it does not name is ignored)."""
    try:
        return await db.execute(statement(True), parameters)
    except ProgrammingError as error:
        if getattr(error.orig, "sqlstate", None) != UNDEFINED_COLUMN:
            raise
    return await db.execute(statement(False), parameters)
