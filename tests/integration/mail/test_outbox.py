"""The outbox under faults (issue 13): a rolled-back statement sends nothing; SQS or SES down
means sent after recovery, exactly once from the user's point of view; the claim makes every
further copy of a queue message a no-op."""

from __future__ import annotations

import logging
import math
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from authapi.config import Settings
from authapi.db.chained_writes import chained_writes
from authapi.db.engine import Database
from authapi.db.session import unit_of_work
from authapi.mailer.delivery import Outcome, deliver
from authapi.mailer.ses import SesMailer
from authapi.maintenance import MaintenanceReport, run_maintenance
from authapi.models import User
from authapi.outbox.messages import (
    TEST_MESSAGE,
    OutboxMessage,
    enqueue,
    submitted_address,
)
from authapi.outbox.notify import notifier_for
from authapi.signing.keys import DataKeys
from tests.support.accounts import Account
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.mail import MailStandIns

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]


def ses(settings: Settings) -> SesMailer:
    return SesMailer(
        sender=settings.mail_from,
        configuration_set=settings.mail_configuration_set,
        region=settings.aws_region,
        timeout_seconds=2,
    )


async def enqueue_test_message(
    database: Database, clock: ManualClock, account: Account
) -> uuid.UUID:
    message = OutboxMessage(kind=TEST_MESSAGE, purpose=TEST_MESSAGE)
    async with unit_of_work(database) as db:
        await db.execute(enqueue(message, now=clock.now(), account_id=uuid.UUID(account.user_id)))
    return message.id


async def status(test_database: ScratchDatabase, outbox_id: uuid.UUID) -> str | None:
    value = await test_database.fetchval("SELECT status FROM mail_outbox WHERE id = $1", outbox_id)
    return None if value is None else str(value)


async def test_a_committed_message_is_sent_once_with_both_parts(
    mail: MailStandIns,
    mail_settings: Settings,
    mail_database: Database,
    account: Account,
    test_database: ScratchDatabase,
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = ManualClock()
    outbox_id = await enqueue_test_message(mail_database, clock, account)
    notifier = notifier_for(mail_settings)
    assert await notifier.notify([outbox_id]) is True
    assert mail.queued_outbox_ids() == [str(outbox_id)]
    provider = ses(mail_settings)
    with caplog.at_level(logging.INFO):
        first = await deliver(
            mail_database, mail_settings, outbox_id=outbox_id, provider=provider, clock=clock
        )
        # SQS delivers at least once: the same message again is a no-op
        again = await deliver(
            mail_database, mail_settings, outbox_id=outbox_id, provider=provider, clock=clock
        )
    assert (first, again) == (Outcome.SENT, Outcome.ALREADY_DONE)
    (sent,) = mail.sent()
    assert sent.to == [account.email]
    assert sent.subject == "Acme Accounts: test message"
    assert account.email in sent.text
    assert "https://app.acme.test" in sent.text
    assert "<strong>" + account.email + "</strong>" in sent.html
    assert "List-Unsubscribe" not in sent.headers
    assert sent.headers["Auto-Submitted"] == "auto-generated"
    assert sent.headers["Message-ID"] == f"<{outbox_id.hex}@mail.test>"
    assert await status(test_database, outbox_id) == "sent"
    # the log names the message, never whom it went to
    logged = [record.__dict__ for record in caplog.records if record.name.startswith("authapi")]
    assert any(fields.get("outbox_id") == str(outbox_id) for fields in logged)
    assert account.email not in str(logged)


async def test_a_rolled_back_statement_enqueues_and_sends_nothing(
    mail: MailStandIns,
    mail_settings: Settings,
    mail_database: Database,
    account: Account,
    test_database: ScratchDatabase,
) -> None:
    clock = ManualClock()
    message = OutboxMessage(kind=TEST_MESSAGE, purpose=TEST_MESSAGE)
    # the flow's own write fails (a taken email): its outbox row goes with it
    taken = insert(User).values(
        id=uuid.uuid4(), email=account.email, password_hash="x", created_at=clock.now()
    )
    statement = chained_writes(
        enqueue(message, now=clock.now(), account_id=uuid.UUID(account.user_id)), taken
    )
    with pytest.raises(IntegrityError):
        async with unit_of_work(mail_database) as db:
            await db.execute(statement)
    assert await status(test_database, message.id) is None
    clock.advance(3600)
    report = await run_maintenance(
        mail_database,
        mail_settings,
        clock=clock,
        seconds_left=lambda: math.inf,
        mail_queue=notifier_for(mail_settings).queue,
    )
    assert str(message.id) not in mail.queued_outbox_ids()
    assert report.requeue_failed is False
    outcome = await deliver(
        mail_database, mail_settings, outbox_id=message.id, provider=ses(mail_settings), clock=clock
    )
    assert outcome is Outcome.ALREADY_DONE
    assert mail.sent() == []


async def test_sqs_down_after_commit_the_maintenance_run_hands_it_over_once_sqs_is_back(
    mail: MailStandIns,
    mail_settings: Settings,
    mail_database: Database,
    account: Account,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = ManualClock()
    outbox_id = await enqueue_test_message(mail_database, clock, account)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", mail.down_url)
    notifier = notifier_for(mail_settings)
    assert await notifier.notify([outbox_id]) is False  # the request still succeeds

    async def maintain() -> MaintenanceReport:
        return await run_maintenance(
            mail_database,
            mail_settings,
            clock=clock,
            seconds_left=lambda: math.inf,
            mail_queue=notifier_for(mail_settings).queue,
        )

    clock.advance(mail_settings.mail_requeue_after_seconds + 1)
    still_down = await maintain()
    assert still_down.requeue_failed
    assert still_down.requeued == 0
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", mail.url)
    back = await maintain()
    assert back.requeued >= 1
    assert mail.queued_outbox_ids().count(str(outbox_id)) == 1
    # a run soon after does not queue it again (re-queued now); nor once it is sent
    clock.advance(1)
    assert (await maintain()).requeued == 0
    outcome = await deliver(
        mail_database, mail_settings, outbox_id=outbox_id, provider=ses(mail_settings), clock=clock
    )
    assert outcome is Outcome.SENT
    clock.advance(mail_settings.mail_requeue_after_seconds + 1)
    await maintain()
    assert str(outbox_id) not in mail.queued_outbox_ids()
    assert [m.to for m in mail.sent()] == [[account.email]]


async def test_ses_down_opens_the_circuit_then_sends_exactly_once_after_recovery(
    mail: MailStandIns,
    mail_settings: Settings,
    mail_database: Database,
    account: Account,
    test_database: ScratchDatabase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await test_database.execute("DELETE FROM mail_circuits")
    clock = ManualClock()
    outbox_id = await enqueue_test_message(mail_database, clock, account)
    provider = ses(mail_settings)
    calls: list[str] = []
    send = provider.send

    def counted(*, to: str, raw: bytes, sender: str | None = None) -> str:
        calls.append(to)
        return send(to=to, raw=raw, sender=sender)

    monkeypatch.setattr(provider, "send", counted)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", mail.down_url)

    async def attempt() -> Outcome:
        return await deliver(
            mail_database, mail_settings, outbox_id=outbox_id, provider=provider, clock=clock
        )

    # each redelivery while SES is down fails, until the breaker opens (3 here)
    assert [await attempt() for _ in range(3)] == [Outcome.RETRY] * 3
    assert len(calls) == 3
    # open: SES is not called, the message stays queued (a failed batch item)
    assert await attempt() is Outcome.CIRCUIT_OPEN
    assert len(calls) == 3
    assert await status(test_database, outbox_id) == "pending"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", mail.url)
    clock.advance(mail_settings.mail_circuit_open_seconds)
    assert await attempt() is Outcome.SENT
    assert await attempt() is Outcome.ALREADY_DONE
    assert len(mail.sent()) == 1
    # a success closes the breaker for everyone
    assert await test_database.fetchval("SELECT failures FROM mail_circuits") == 0


async def test_a_message_held_by_another_mailer_is_left_to_it(
    mail: MailStandIns,
    mail_settings: Settings,
    mail_database: Database,
    account: Account,
    test_database: ScratchDatabase,
) -> None:
    clock = ManualClock()
    outbox_id = await enqueue_test_message(mail_database, clock, account)
    # another mailer claimed it and has not recorded yet (it may have died after SES took it)
    await test_database.execute(
        "UPDATE mail_outbox SET claimed_until = $2 WHERE id = $1",
        outbox_id,
        clock.now() + timedelta(seconds=30),
    )
    provider = ses(mail_settings)
    outcome = await deliver(
        mail_database, mail_settings, outbox_id=outbox_id, provider=provider, clock=clock
    )
    assert outcome is Outcome.HELD
    assert mail.sent() == []
    # its lease ran out: the duplicate window the README states; the row is sent again
    clock.advance(mail_settings.mail_lease_seconds)
    assert (
        await deliver(
            mail_database, mail_settings, outbox_id=outbox_id, provider=provider, clock=clock
        )
        is Outcome.SENT
    )


async def test_a_refused_message_is_given_up_not_retried(
    mail: MailStandIns,
    mail_settings: Settings,
    mail_database: Database,
    account: Account,
    test_database: ScratchDatabase,
) -> None:
    clock = ManualClock()
    outbox_id = await enqueue_test_message(mail_database, clock, account)
    unverified = mail_settings.model_copy(update={"mail_from": "someone@unverified.test"})
    outcome = await deliver(
        mail_database, unverified, outbox_id=outbox_id, provider=ses(unverified), clock=clock
    )
    assert outcome is Outcome.FAILED
    assert await status(test_database, outbox_id) == "failed"
    assert (
        await test_database.fetchval("SELECT last_error FROM mail_outbox WHERE id = $1", outbox_id)
        == "MessageRejected"
    )


@pytest.mark.parametrize("registered", [True, False])
async def test_a_submitted_address_is_resolved_by_the_mailer(
    registered: bool,
    mail: MailStandIns,
    mail_settings: Settings,
    mail_database: Database,
    account: Account,
    data_keys: DataKeys,
    test_database: ScratchDatabase,
) -> None:
    clock = ManualClock()
    email = account.email if registered else f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    message = OutboxMessage(kind=TEST_MESSAGE, purpose=TEST_MESSAGE)
    address = submitted_address(data_keys, email)
    async with unit_of_work(mail_database) as db:
        await db.execute(enqueue(message, now=clock.now(), address=address))
    row = await test_database.fetchval(
        "SELECT sealed_address FROM mail_outbox WHERE id = $1", message.id
    )
    assert email.encode() not in row  # sealed, not stored as it was typed
    outcome = await deliver(
        mail_database,
        mail_settings,
        outbox_id=message.id,
        provider=ses(mail_settings),
        clock=clock,
        data_keys=data_keys,
    )
    assert outcome is (Outcome.SENT if registered else Outcome.SKIPPED)
    assert [m.to for m in mail.sent()] == ([[account.email]] if registered else [])


async def test_old_outbox_rows_are_purged(
    mail_settings: Settings,
    mail_database: Database,
    account: Account,
    test_database: ScratchDatabase,
) -> None:
    clock = ManualClock()
    outbox_id = await enqueue_test_message(mail_database, clock, account)
    clock.advance(mail_settings.mail_retention_days * 86400 + 1)
    report = await run_maintenance(
        mail_database, mail_settings, clock=clock, seconds_left=lambda: math.inf
    )
    assert report.deleted["mail_outbox"] >= 1
    assert await status(test_database, outbox_id) is None


async def test_a_kind_this_release_does_not_know_stays_queued(
    mail: MailStandIns,
    mail_settings: Settings,
    mail_database: Database,
    account: Account,
    test_database: ScratchDatabase,
) -> None:
    """A newer release's kind, met by this mailer during a deploy: kept for one that knows it."""
    clock = ManualClock()
    message = OutboxMessage(kind="from_a_newer_release", purpose="future")
    async with unit_of_work(mail_database) as db:
        await db.execute(enqueue(message, now=clock.now(), account_id=uuid.UUID(account.user_id)))
    outcome = await deliver(
        mail_database, mail_settings, outbox_id=message.id, provider=ses(mail_settings), clock=clock
    )
    assert outcome is Outcome.RETRY
    assert await status(test_database, message.id) == "pending"
    assert mail.sent() == []
