"""Deleting in bounded batches: the maintenance run's one way to remove rows."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Select, delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from authapi.tenant_scope import every_tenant


async def delete_batch(
    db: AsyncSession, key: InstrumentedAttribute[Any], stale: Select[Any]
) -> int:
    """Delete the rows whose `key` (the primary key) `stale` selects; how many went.

    `stale` carries the batch's LIMIT and `FOR UPDATE SKIP LOCKED`: a row a request holds locked
    is left for the next run instead of waited for. A purge is by age across every tenant
    (`every_tenant`): each table's horizon is the deployment's.
    """
    statement = every_tenant(delete(key.class_).where(key.in_(stale)))
    result = cast(CursorResult[Any], await db.execute(statement))
    return int(result.rowcount)
