"""The lifecycle on the schema before its migration (0009: a deploy under way): registration
still works and enqueues its verification message, which the mailer leaves queued (it cannot
mint a token without the table) until the migration lands; then it is sent."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.engine import make_url

from authapi.app import create_app
from authapi.config import Settings
from authapi.db.engine import Database, create_engine
from authapi.mailer.delivery import Outcome
from authapi.migrations import upgrade_to_head
from tests.support.accounts import register
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase, sibling_database
from tests.support.http import serving, unique_client_ip
from tests.support.lifecycle import Mailer
from tests.support.mail import MailStandIns
from tests.support.settings import make_settings

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

BEFORE_LIFECYCLE = "0009"


def _as_app(database: ScratchDatabase) -> ScratchDatabase:
    url = make_url(database.url).set(username=f"{database.role_prefix}_app")
    return ScratchDatabase(
        url=url.render_as_string(hide_password=False),
        server=None,
        direct_url=database.direct_url,
        role_prefix=database.role_prefix,
    )


async def test_verification_mail_waits_for_the_migration(
    test_database: ScratchDatabase,
    signing_key_pem: str,
    mail: MailStandIns,
    mail_settings: Settings,
    mailer: Mailer,
) -> None:
    async with sibling_database(test_database, revision=BEFORE_LIFECYCLE) as previous:
        overrides = {
            key: getattr(mail_settings, key)
            for key in ("mail_queue_url", "mail_from", "public_app_url", "aws_region")
        }
        settings = make_settings(_as_app(previous), signing_key_pem, **overrides)
        clock = ManualClock()
        async with serving(
            create_app(settings, clock=clock), client_ip=unique_client_ip()
        ) as client:
            account = await register(client)
            me = await client.get("/api/v1/auth/me", headers=account.auth)
            assert me.body["email_verified"] is False
        (outbox_id,) = mail.queued_outbox_ids()
        database = Database(settings)
        try:
            behind = Mailer(
                mail=mail, database=database, settings=settings, data_keys=mailer.data_keys
            )
            assert await behind.deliver(clock, outbox_id) is Outcome.RETRY
            status = await previous.fetchval(
                "SELECT status FROM mail_outbox WHERE id = $1", uuid.UUID(outbox_id)
            )
            assert status == "pending"
            engine = create_engine(Settings(environment="test", database_url=previous.url))
            try:
                await upgrade_to_head(engine, role_prefix=previous.role_prefix)
            finally:
                await engine.dispose()
            assert await behind.deliver(clock, outbox_id) is Outcome.SENT
            assert len(behind.sent_to(account.email)) == 1
        finally:
            await database.dispose()
