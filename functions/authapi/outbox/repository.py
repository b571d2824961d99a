"""The maintenance run's side of the outbox: re-queue what nobody handed over, purge old rows.

Both also run on the schema before the outbox's migration (a deploy under way: the maintenance
run's new code may start first): each statement runs in a savepoint, and a missing table means
nothing to do, without aborting the run's other work.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.db.batches import delete_batch
from authapi.db.expand import names_a_missing_table
from authapi.models import MailOutbox
from authapi.tenant_scope import every_tenant

PENDING = "pending"


async def mark_for_requeue(
    db: AsyncSession, *, handed_over_before: datetime, now: datetime, limit: int
) -> list[uuid.UUID]:
    """Pending rows written, and not re-queued, since before `handed_over_before`, and held by
    no mailer: stamped `requeued_at = now` and returned, oldest first, for the caller to send
    to the queue before it commits. One statement; a row a mailer holds locked is skipped.

    A row whose first queue message is still in flight (its mailer failed and SQS will try
    again) may be queued twice: the mailer's claim makes the second copy a no-op.
    """
    due = (
        select(MailOutbox.id)
        .where(
            MailOutbox.status == PENDING,
            MailOutbox.created_at < handed_over_before,
            or_(MailOutbox.requeued_at.is_(None), MailOutbox.requeued_at < handed_over_before),
            or_(MailOutbox.claimed_until.is_(None), MailOutbox.claimed_until <= now),
        )
        .order_by(MailOutbox.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    # every tenant's mail: the queue message names the row, the mailer finds its tenant there
    statement = every_tenant(
        update(MailOutbox)
        .where(MailOutbox.id.in_(due.scalar_subquery()))
        .values(requeued_at=now)
        .returning(MailOutbox.id)
    )
    try:
        async with db.begin_nested():
            result = await db.execute(statement)
    except ProgrammingError as error:
        if names_a_missing_table(error):
            return []
        raise
    return list(result.scalars())


async def purge_old_outbox_rows(
    db: AsyncSession, *, created_before: datetime, now: datetime, limit: int
) -> int:
    """Rows of any status written before `created_before` (they hold a sealed address and say
    whom we wrote to: kept no longer than needed), unless a mailer holds one right now."""
    stale = (
        select(MailOutbox.id)
        .where(
            MailOutbox.created_at < created_before,
            or_(MailOutbox.claimed_until.is_(None), MailOutbox.claimed_until <= now),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    try:
        async with db.begin_nested():
            return await delete_batch(db, MailOutbox.id, stale)
    except ProgrammingError as error:
        if names_a_missing_table(error):
            return 0
        raise


async def outbox_row(db: AsyncSession, outbox_id: uuid.UUID) -> MailOutbox | None:
    return await db.get(MailOutbox, outbox_id)
