"""One outbox row, delivered at most once per claim: claim, render, send, record.

1. Claim (one statement, its own transaction, with the token a kind mints): the row must be
   pending, held by no other mailer, and the circuit breaker closed. The claim holds the row for
   `mail_lease_seconds`, so a second queue message for it (SQS delivers at least once; the
   maintenance run may re-queue) finds it held, or sent, and does nothing.
2. Send through the provider, outside any transaction.
3. Record (one statement): sent, with the provider's id; or the failure, which releases the row
   for the next delivery (transient) or gives it up (the provider refused it as it is).

The one duplicate: the mailer dies (or loses the database) after the provider accepted the
message and before step 3 committed; when the lease expires the row is sent again.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import exists, literal, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.clock import Clock
from authapi.config import Settings
from authapi.db.chained_writes import chained_writes
from authapi.db.engine import Database
from authapi.db.expand import UNDEFINED_COLUMN, UNDEFINED_TABLE
from authapi.db.session import unit_of_work
from authapi.mailer.kinds import KINDS, MailJob, MailKind
from authapi.mailer.render import RenderedMail, render
from authapi.mailer.ses import SendFailure
from authapi.models import MailCircuit, MailOutbox
from authapi.observability import metrics
from authapi.outbox.messages import ADDRESS_PURPOSE
from authapi.signing.keys import DataKeys
from authapi.signing.sealing import SealedDataUnreadable, open_sealed
from authapi.tenant_scope import DEFAULT_TENANT, current_tenant, every_tenant, schema_has_tenants
from authapi.tenants.settings import tenant_settings_in
from authapi.users.repository import active_account_address

logger = logging.getLogger(__name__)

PROVIDER = "ses"  # the circuit breaker's row


class MailProvider(Protocol):
    def send(self, *, to: str, raw: bytes, sender: str | None = None) -> str: ...


def row_tenant(row: dict[str, Any]) -> str:
    """The tenant an outbox row's message is sent for: its `tenant_id` (migration 0014), the
    default tenant on a schema or a claim without one."""
    return str(row.get("tenant_id") or DEFAULT_TENANT)


class Outcome(enum.Enum):
    SENT = "sent"
    SKIPPED = "skipped"  # nothing to send: no (active) account to write to
    FAILED = "failed"  # the provider refused it as it is: given up
    ALREADY_DONE = "already_done"  # sent, skipped or failed before, or purged: a duplicate
    HELD = "held"  # another mailer holds it now
    RETRY = "retry"  # a transient failure: the queue delivers it again
    CIRCUIT_OPEN = "circuit_open"  # the provider is not being called now: stays queued

    @property
    def stays_queued(self) -> bool:
        """Whether the queue message must come back (a failed batch item)."""
        return self in (Outcome.RETRY, Outcome.CIRCUIT_OPEN)


@dataclass(frozen=True)
class Claim:
    row: dict[str, Any] | None
    status: str | None  # the row's status before the claim (None: no such row)
    circuit_open: bool


async def claim(
    db: AsyncSession, outbox_id: uuid.UUID, *, now: datetime, lease: timedelta
) -> Claim:
    circuit_open = (
        select(MailCircuit.name)
        .where(MailCircuit.name == PROVIDER, MailCircuit.open_until > now)
        .cte("circuit_open")
    )
    claimed = (
        update(MailOutbox)
        .where(
            MailOutbox.id == outbox_id,
            MailOutbox.status == "pending",
            or_(MailOutbox.claimed_until.is_(None), MailOutbox.claimed_until <= now),
            ~exists(select(circuit_open.c.name)),
        )
        .values(claimed_until=now + lease, attempts=MailOutbox.attempts + 1, last_attempt_at=now)
        .returning(
            MailOutbox.id,
            MailOutbox.kind,
            MailOutbox.purpose,
            MailOutbox.account_id,
            MailOutbox.sealed_address,
            MailOutbox.key_id,
            MailOutbox.attempts,
            *((MailOutbox.tenant_id,) if schema_has_tenants.get() else ()),
        )
        .cte("claimed")
    )
    anchor = select(literal(1).label("one")).subquery("anchor")
    # the queue message names the row, not its tenant: claimed across tenants, then handled in
    # the row's own (`deliver`)
    statement = every_tenant(
        select(
            claimed,
            exists(select(circuit_open.c.name)).label("circuit_open"),
            select(MailOutbox.status)
            .where(MailOutbox.id == outbox_id)
            .scalar_subquery()
            .label("previous_status"),
        )
        .select_from(anchor)
        .outerjoin(claimed, true())
    )
    row = (await db.execute(statement)).mappings().one()
    claimed_row = dict(row) if row["id"] is not None else None
    return Claim(row=claimed_row, status=row["previous_status"], circuit_open=row["circuit_open"])


def _open_address(row: dict[str, Any], data_keys: DataKeys | None) -> str | None:
    if row["sealed_address"] is None or data_keys is None:
        return None
    try:
        return open_sealed(
            data_keys, ADDRESS_PURPOSE, key_id=row["key_id"], blob=row["sealed_address"]
        )
    except SealedDataUnreadable:
        return None


async def _recipient(
    db: AsyncSession, row: dict[str, Any], data_keys: DataKeys | None, kind: MailKind
) -> tuple[uuid.UUID | None, str] | None:
    """(account id, address) to write to, or None: no active account has it. A kind sent to
    the sealed address as it is writes there, for the row's account if it is still active."""
    if kind.to_sealed_address:
        email = _open_address(row, data_keys)
        if email is None:
            return None
        if row["account_id"] is None:
            return None, email
        account = await active_account_address(db, user_id=row["account_id"])
        return (account[0], email) if account is not None else None
    if row["account_id"] is not None:
        return await active_account_address(db, user_id=row["account_id"])
    email = _open_address(row, data_keys)
    if email is None:
        return None
    return await active_account_address(db, email=email)


class _SchemaBehind(Exception):
    """A kind's context named a table or column the schema has not got yet (a deploy under
    way): the claim is rolled back and the row stays pending for a later delivery."""


async def _context(db: AsyncSession, kind: MailKind, job: MailJob) -> dict[str, Any] | None:
    if kind.context is None:
        return {}
    try:
        return await kind.context(db, job)
    except ProgrammingError as error:
        if getattr(error.orig, "sqlstate", None) in (UNDEFINED_TABLE, UNDEFINED_COLUMN):
            raise _SchemaBehind() from None
        raise


def _finish(outbox_id: uuid.UUID, **values: Any) -> Any:
    return update(MailOutbox).where(MailOutbox.id == outbox_id).values(claimed_until=None, **values)


async def deliver(
    database: Database,
    settings: Settings,
    *,
    outbox_id: uuid.UUID,
    provider: MailProvider,
    clock: Clock,
    data_keys: DataKeys | None = None,
) -> Outcome:
    """Deliver one outbox row (see the module's docstring); what happened to it. Everything
    after the claim runs in the row's tenant (its account, its tokens, its outbox row)."""
    token = current_tenant.set(current_tenant.get())
    try:
        return await _deliver(
            database,
            settings,
            outbox_id=outbox_id,
            provider=provider,
            clock=clock,
            data_keys=data_keys,
        )
    finally:
        current_tenant.reset(token)


async def _deliver(
    database: Database,
    settings: Settings,
    *,
    outbox_id: uuid.UUID,
    provider: MailProvider,
    clock: Clock,
    data_keys: DataKeys | None,
) -> Outcome:
    now = clock.now()
    rendered: RenderedMail | None = None
    recipient: tuple[uuid.UUID | None, str] | None = None
    try:
        async with unit_of_work(database) as db:
            claimed = await claim(
                db, outbox_id, now=now, lease=timedelta(seconds=settings.mail_lease_seconds)
            )
            if claimed.row is None:
                if claimed.circuit_open:
                    return Outcome.CIRCUIT_OPEN
                return Outcome.HELD if claimed.status == "pending" else Outcome.ALREADY_DONE
            row = claimed.row
            # the row's tenant decides the links, the sender and the lifetimes in its mail
            tenant_id = row_tenant(row)
            current_tenant.set(tenant_id)  # deliver() restores the caller's
            settings = await tenant_settings_in(db, settings, tenant_id)
            kind = KINDS.get(row["kind"])
            if kind is None:
                # a kind this code does not know: a newer release wrote it (a deploy under way);
                # left pending for a mailer that knows it, never dropped
                await db.execute(_finish(outbox_id, last_error="UnknownKind"))
                logger.warning(
                    "mail of an unknown kind left queued", extra=_log(row, Outcome.RETRY)
                )
                return Outcome.RETRY
            recipient = await _recipient(db, row, data_keys, kind)
            extra: dict[str, Any] | None = None
            if recipient is not None:
                job = MailJob(
                    outbox_id=outbox_id,
                    kind=row["kind"],
                    purpose=row["purpose"],
                    account_id=recipient[0],
                    email=recipient[1],
                    now=now,
                    settings=settings,
                    data_keys=data_keys,
                )
                extra = await _context(db, kind, job)
            if extra is None:
                # no (active) account to write to, or nothing left to say (verified meanwhile)
                await db.execute(_finish(outbox_id, status="skipped", last_error=None))
                outcome = Outcome.SKIPPED
            else:
                rendered = render(kind, job, extra)
    except _SchemaBehind:
        logger.warning(
            "mail left queued: the schema is behind this release",
            extra={"outbox_id": str(outbox_id)},
        )
        return Outcome.RETRY
    if rendered is None or recipient is None:
        metrics.count(metrics.MAIL_SKIPPED)
        logger.info("mail skipped: nothing to send", extra=_log(row, outcome))
        return outcome
    try:
        message_id = provider.send(to=recipient[1], raw=rendered.raw, sender=settings.mail_from)
    except SendFailure as failure:
        return await _record_failure(database, settings, row, failure, now=clock.now())
    async with unit_of_work(database) as db:
        reset_circuit = (
            update(MailCircuit)
            .where(MailCircuit.name == PROVIDER, MailCircuit.failures > 0)
            .values(failures=0, open_until=None)
        )
        sent = _finish(
            outbox_id,
            status="sent",
            sent_at=clock.now(),
            provider_message_id=message_id[:100],
            last_error=None,
        )
        await db.execute(chained_writes(reset_circuit, sent))
    metrics.count(metrics.MAIL_SENT)
    logger.info("mail sent", extra=_log(row, Outcome.SENT))
    return Outcome.SENT


async def _record_failure(
    database: Database,
    settings: Settings,
    row: dict[str, Any],
    failure: SendFailure,
    *,
    now: datetime,
) -> Outcome:
    outbox_id = row["id"]
    if failure.permanent:
        async with unit_of_work(database) as db:
            await db.execute(_finish(outbox_id, status="failed", last_error=failure.code[:100]))
        metrics.count(metrics.MAIL_FAILED)
        logger.warning("mail refused by the provider", extra=_log(row, Outcome.FAILED, failure))
        return Outcome.FAILED
    open_until = now + timedelta(seconds=settings.mail_circuit_open_seconds)
    threshold = settings.mail_circuit_failures
    first = insert(MailCircuit).values(
        name=PROVIDER, failures=1, open_until=open_until if threshold <= 1 else None
    )
    failures_after = MailCircuit.failures + 1
    counted = first.on_conflict_do_update(
        index_elements=[MailCircuit.name],
        set_={
            "failures": failures_after,
            "open_until": _open_until_after(failures_after, threshold, open_until),
        },
    ).returning(MailCircuit.failures)
    released = _finish(outbox_id, last_error=failure.code[:100])
    async with unit_of_work(database) as db:
        failures = (await db.execute(chained_writes(released, counted))).scalar_one()
    metrics.count(metrics.MAIL_RETRIED)
    if failures >= threshold:
        metrics.count(metrics.MAIL_CIRCUIT_OPENED)
        logger.warning(
            "mail circuit open: the provider is not called for a while",
            extra={"failures": failures, "open_seconds": settings.mail_circuit_open_seconds},
        )
    logger.warning("mail send failed; it stays queued", extra=_log(row, Outcome.RETRY, failure))
    return Outcome.RETRY


def _open_until_after(failures: Any, threshold: int, open_until: datetime) -> Any:
    from sqlalchemy import case

    return case((failures >= threshold, open_until), else_=MailCircuit.open_until)


def _log(
    row: dict[str, Any], outcome: Outcome, failure: SendFailure | None = None
) -> dict[str, Any]:
    # ids and codes only: never the address, never the message
    fields: dict[str, Any] = {
        "outbox_id": str(row["id"]),
        "kind": row["kind"],
        "attempt": row["attempts"],
        "outcome": outcome.value,
    }
    if failure is not None:
        fields |= {"error": failure.code, "status": failure.status}
    return fields
