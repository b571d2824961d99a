"""Several writes sent as one statement, using PostgreSQL's data-modifying CTEs."""

from __future__ import annotations

from sqlalchemy.sql.dml import UpdateBase


def chained_writes(*statements: UpdateBase) -> UpdateBase:
    """One round trip and one atomic unit for writes to several tables.

    The first statements run as data-modifying CTEs of the last one. Foreign keys between the
    rows hold even though the sub-statements run "concurrently": PostgreSQL checks them when the
    whole statement ends. No two of them may write the same row.
    """
    *leading, final = statements
    for index, statement in enumerate(leading):
        final = final.add_cte(statement.cte(f"write_{index}"))
    return final
