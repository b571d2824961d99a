"""The lockout notice (issue 13, the abuse issue's notice): the attempt that locks an account's
sign-in writes one outbox row in its own statement, at most one per account per 24 hours, none
for an address without an account; the mailer sends it."""

from __future__ import annotations

import uuid

import pytest

from authapi.config import Settings
from authapi.db.engine import Database
from authapi.mailer.delivery import Outcome, deliver
from authapi.mailer.ses import SesMailer
from authapi.outbox.messages import LOCKOUT_NOTICE
from tests.support.accounts import register, unique_email
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, ClientWith
from tests.support.mail import MailStandIns

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

WRONG = "a stranger guessing"
LIMITS = {"login_max_failures": 3, "login_lockout_base_seconds": 30}


async def notices(test_database: ScratchDatabase, user_id: str) -> list[uuid.UUID]:
    rows = await test_database.fetch(
        "SELECT id FROM mail_outbox WHERE kind = $1 AND account_id = $2",
        LOCKOUT_NOTICE,
        uuid.UUID(user_id),
    )
    return [row["id"] for row in rows]


async def fail(client: ApiClient, email: str, times: int) -> list[int]:
    return [
        (await client.post("/api/v1/auth/login", json={"email": email, "password": WRONG})).status
        for _ in range(times)
    ]


async def test_the_locking_attempt_enqueues_one_notice_a_day(
    client_with: ClientWith,
    test_database: ScratchDatabase,
    mail: MailStandIns,
    mail_settings: Settings,
    mail_database: Database,
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **LIMITS) as client:
        account = await register(client)
        assert await fail(client, account.email, 2) == [401, 401]
        assert await notices(test_database, account.user_id) == []
        assert await fail(client, account.email, 1) == [401]  # this one sets the lock
        (notice,) = await notices(test_database, account.user_id)
        # locked again once the lock ran out, the same day: no second notice
        clock.advance(60)
        assert await fail(client, account.email, 2) == [401, 429]
        assert await notices(test_database, account.user_id) == [notice]
        # a day later, a new lock is worth a new notice
        clock.advance(24 * 3600)
        assert await fail(client, account.email, 3) == [401, 401, 401]
        assert len(await notices(test_database, account.user_id)) == 2

    provider = SesMailer(
        sender=mail_settings.mail_from,
        configuration_set=None,
        region=mail_settings.aws_region,
        timeout_seconds=2,
    )
    outcome = await deliver(
        mail_database, mail_settings, outbox_id=notice, provider=provider, clock=clock
    )
    assert outcome is Outcome.SENT
    (sent,) = mail.sent()
    assert sent.to == [account.email]
    assert sent.subject == "Acme Accounts: sign-in paused after failed attempts"
    assert "wrong password" in sent.text
    assert "wrong password" in sent.html


async def test_an_unknown_address_gets_no_notice(
    client_with: ClientWith, test_database: ScratchDatabase
) -> None:
    before = await test_database.fetchval("SELECT count(*) FROM mail_outbox")
    async with client_with(**LIMITS) as client:
        assert await fail(client, unique_email(), 3) == [401, 401, 401]
    assert await test_database.fetchval("SELECT count(*) FROM mail_outbox") == before
