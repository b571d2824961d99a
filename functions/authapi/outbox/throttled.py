"""Mail to a submitted address, throttled per address: the request row and the throttle are one
statement.

The count is of this table's own recent rows with the address's HMAC, whichever flow wrote them
(forgot, resend, email change), registered address or not: at most one per
`mail_address_interval_seconds` and `mail_address_per_hour` per hour. So none of these
endpoints can flood a stranger's inbox, and the answer (202, or 429 for both) says nothing about
whether the address has an account. Two requests racing may both pass: a rare extra message.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, insert, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import UpdateBase

from authapi.config import Settings
from authapi.models import MailOutbox
from authapi.outbox.messages import OutboxMessage, SubmittedAddress, enqueue_when
from authapi.tenant_scope import tenant_selected

HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Throttled:
    enqueued: bool
    retry_after_seconds: int  # when not enqueued


async def enqueue_throttled(
    db: AsyncSession,
    settings: Settings,
    message: OutboxMessage,
    *,
    address: SubmittedAddress,
    now: datetime,
    account_id: uuid.UUID | None = None,
    notice: OutboxMessage | None = None,
    along: Callable[[ColumnElement[bool]], Sequence[UpdateBase]] | None = None,
) -> Throttled:
    """Enqueue `message` to `address` (for `account_id`, if given) unless the address had its
    share of mail lately; one statement either way. `notice`: a second message, to the
    account, enqueued only with the first (an email change's notice to the old address).
    `along`: further writes of the same statement, given the condition "it was enqueued"."""
    interval = timedelta(seconds=settings.mail_address_interval_seconds)
    columns = MailOutbox.__table__.c
    recent = (
        select(
            func.count().filter(MailOutbox.created_at > now - interval).label("in_interval"),
            func.count().label("in_hour"),
            func.max(MailOutbox.created_at).label("latest"),
            func.min(MailOutbox.created_at).label("oldest"),
        )
        .where(MailOutbox.address_hmac == address.address_hmac, MailOutbox.created_at > now - HOUR)
        .cte("recent")
    )
    tenant_names, tenant_columns = tenant_selected()
    rows = select(
        literal(message.id, columns.id.type),
        literal(message.kind, columns.kind.type),
        literal(message.purpose, columns.purpose.type),
        literal(account_id, columns.account_id.type),
        literal(address.address_hmac, columns.address_hmac.type),
        literal(address.sealed_address, columns.sealed_address.type),
        literal(address.key_id, columns.key_id.type),
        literal(now, columns.created_at.type),
        literal("pending", columns.status.type),
        literal(0, columns.attempts.type),
        *tenant_columns,
    ).where(recent.c.in_interval == 0, recent.c.in_hour < settings.mail_address_per_hour)

    inserted = (
        insert(MailOutbox)
        .from_select(
            [
                "id",
                "kind",
                "purpose",
                "account_id",
                "address_hmac",
                "sealed_address",
                "key_id",
                "created_at",
                "status",
                "attempts",
                *tenant_names,
            ],
            rows,
        )
        .returning(MailOutbox.id)
        .cte("enqueued")
    )
    ctes = []
    if notice is not None and account_id is not None:
        ctes.append(
            enqueue_when(
                notice, now=now, account_id=account_id, when=exists(select(inserted.c.id))
            ).cte("notice")
        )
    if along is not None:
        enqueued = exists(select(inserted.c.id))
        ctes += [write.cte(f"along_{index}") for index, write in enumerate(along(enqueued))]
    statement = (
        select(
            select(func.count()).select_from(inserted).scalar_subquery().label("enqueued"),
            recent.c.in_interval,
            recent.c.in_hour,
            recent.c.latest,
            recent.c.oldest,
        )
        .select_from(recent)
        .add_cte(*ctes)
    )
    row = (await db.execute(statement)).one()
    if row.enqueued:
        return Throttled(enqueued=True, retry_after_seconds=0)
    waits = [0.0]
    if row.in_interval and row.latest is not None:
        waits.append((row.latest + interval - now).total_seconds())
    if row.in_hour >= settings.mail_address_per_hour and row.oldest is not None:
        waits.append((row.oldest + HOUR - now).total_seconds())
    return Throttled(enqueued=False, retry_after_seconds=max(1, math.ceil(max(waits))))
