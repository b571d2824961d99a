"""Several INSERTs sent as one statement, using PostgreSQL's data-modifying CTEs."""

from __future__ import annotations

from sqlalchemy import Insert


def chained_insert(*statements: Insert) -> Insert:
    """One round trip and one atomic unit for rows of several tables.

    Foreign keys between the rows hold even though the sub-statements run "concurrently":
    PostgreSQL checks them when the whole statement ends.
    """
    *leading, final = statements
    for index, statement in enumerate(leading):
        final = final.add_cte(statement.cte(f"insert_{index}"))
    return final
