"""Deleting the audit trail's rows past its retention, in batches (the maintenance run only).

Only the maintenance role may delete audit rows (migrations/roles.py): the app's role records and
reads them, never erases one. A deleted account's rows (no foreign key, no email) go the same
way, `audit_retention_days` after each was recorded.

In a savepoint each: on the schema before migration 0012 the tables are missing, and there is
nothing to do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from authapi.audit.record import names_a_missing_audit_table
from authapi.db.batches import delete_batch
from authapi.models import AuditEvent, EventOutbox


async def _delete_if_the_table_exists(
    db: AsyncSession, key: InstrumentedAttribute[Any], stale: Select[Any]
) -> int:
    try:
        async with db.begin_nested():
            return await delete_batch(db, key, stale)
    except ProgrammingError as error:
        if names_a_missing_audit_table(error):
            return 0
        raise


async def purge_old_audit_events(db: AsyncSession, *, recorded_before: datetime, limit: int) -> int:
    """Audit rows recorded before `recorded_before`, oldest first (the index on occurred_at).

    No `FOR UPDATE SKIP LOCKED` here: it needs the UPDATE right, which no role has on the trail,
    and no request ever locks an audit row anyway (a concurrent run's DELETE waits instead).
    """
    stale = (
        select(AuditEvent.id)
        .where(AuditEvent.occurred_at < recorded_before)
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
        .limit(limit)
    )
    return await _delete_if_the_table_exists(db, AuditEvent.id, stale)


async def purge_old_outbox_rows(db: AsyncSession, *, created_before: datetime, limit: int) -> int:
    """Outbox rows written before `created_before` (the trail's horizon): their event is gone,
    or going, from the trail, so they can never be published."""
    stale = (
        select(EventOutbox.event_id)
        .where(EventOutbox.created_at < created_before)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return await _delete_if_the_table_exists(db, EventOutbox.event_id, stale)
