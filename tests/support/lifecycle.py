"""The account lifecycle in tests: an app that notifies the SES stand-in's queue, the mailer run
on what it queued, and the code and token read back out of the message that arrived."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from authapi.clock import Clock
from authapi.config import Settings
from authapi.db.engine import Database
from authapi.mailer.delivery import Outcome, deliver
from authapi.mailer.ses import SesMailer
from authapi.signing.keys import DataKeys
from tests.support.mail import MailStandIns, SentMail

APP_URL = "https://app.acme.test"


def lifecycle_overrides(mail: MailStandIns, mail_settings: Settings) -> dict[str, Any]:
    """`client_with(**...)`: the app reaches the queue, and links point at the web app."""
    return {
        "mail_queue_url": mail.queue_url,
        "public_app_url": APP_URL,
        "mail_product_name": mail_settings.mail_product_name,
        "aws_region": mail_settings.aws_region,
    }


@dataclass
class Mailer:
    mail: MailStandIns
    database: Database
    settings: Settings
    data_keys: DataKeys

    async def run(self, clock: Clock) -> list[Outcome]:
        """Deliver every outbox id the app queued since the last run."""
        return [await self.deliver(clock, outbox_id) for outbox_id in self.mail.queued_outbox_ids()]

    async def deliver(self, clock: Clock, outbox_id: str) -> Outcome:
        provider = SesMailer(
            sender=self.settings.mail_from,
            configuration_set=None,
            region=self.settings.aws_region,
            timeout_seconds=2,
        )
        return await deliver(
            self.database,
            self.settings,
            outbox_id=uuid.UUID(outbox_id),
            provider=provider,
            clock=clock,
            data_keys=self.data_keys,
        )

    def sent_to(self, email: str) -> list[SentMail]:
        return [sent for sent in self.mail.sent() if email in sent.to]


def token_of(sent: SentMail, path: str) -> str:
    """The token of the link to `path` (in its fragment), checked in both parts."""
    pattern = re.escape(f"{APP_URL}{path}#token=") + r"([A-Za-z0-9_\-%]+)"
    found = re.search(pattern, sent.text)
    assert found is not None, sent.text
    assert found.group(0) in sent.html
    return found.group(1)


def code_of(sent: SentMail) -> str:
    found = re.search(r"Your code: (\d{6})", sent.text)
    assert found is not None, sent.text
    assert found.group(1) in sent.html
    return found.group(1)
