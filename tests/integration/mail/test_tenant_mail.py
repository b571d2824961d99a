"""A tenant's mail (issue 17): the outbox row's tenant decides the links and the sender."""

from __future__ import annotations

import json
import uuid

import pytest

from authapi.tenant_scope import current_tenant
from authapi.tenants import directory
from tests.support.accounts import STRONG_PASSWORD, register, unique_email
from tests.support.aws import REGION
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ClientWith
from tests.support.lifecycle import Mailer, token_of
from tests.support.mail import MailStandIns

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

CONFIRM = "confirm your email"
TENANT_URL = "https://accounts.tenant.test"
TENANT_SENDER = "Tenant Accounts <hello@tenant.test>"


async def test_the_rows_tenant_gives_its_links_and_sender(
    client_with: ClientWith,
    mailer: Mailer,
    mail: MailStandIns,
    lifecycle: dict[str, object],
    test_database: ScratchDatabase,
) -> None:
    tenant_id = f"t-{uuid.uuid4().hex[:12]}"
    await test_database.execute(
        "INSERT INTO tenants (id, name, settings, created_at) VALUES ($1, 'T', $2::jsonb, now())",
        tenant_id,
        json.dumps({"public_app_url": TENANT_URL, "mail_from": TENANT_SENDER}),
    )
    mail.client("sesv2").create_email_identity(EmailIdentity="tenant.test")
    tenant_mailer = Mailer(
        mail=mail,
        database=mailer.database,
        settings=mailer.settings.model_copy(update={"tenant_mail_identities": ["tenant.test"]}),
        data_keys=mailer.data_keys,
    )
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        default_account = await register(client)
        # the same kind of account in the tenant, through its path: its mail rows are its own
        tenant_email = unique_email()
        reply = await client.post(
            f"/t/{tenant_id}/api/v1/auth/register",
            json={"email": tenant_email, "password": STRONG_PASSWORD},
        )
        assert reply.status == 201, reply.body
    ids = mail.queued_outbox_ids()
    rows = await test_database.fetch(
        "SELECT tenant_id FROM mail_outbox WHERE id = ANY($1::uuid[])",
        [uuid.UUID(i) for i in ids],
    )
    assert sorted(row["tenant_id"] for row in rows) == sorted(["default", tenant_id])
    directory.forget()
    for outbox_id in ids:
        await tenant_mailer.deliver(clock, outbox_id)
    assert current_tenant.get() == "default"  # the mailer restores its caller's tenant

    [tenant_mail] = [m for m in tenant_mailer.sent_to(tenant_email) if CONFIRM in m.subject]
    assert tenant_mail.headers["From"] == TENANT_SENDER
    assert f"{TENANT_URL}/verify-email#token=" in tenant_mail.text
    assert f"{TENANT_URL}/verify-email#token=" in tenant_mail.html
    [default_mail] = [
        m for m in tenant_mailer.sent_to(default_account.email) if CONFIRM in m.subject
    ]
    assert default_mail.headers["From"] == mailer.settings.mail_from
    assert token_of(default_mail, "/verify-email")  # the deployment's app URL
    assert TENANT_URL not in default_mail.text
    sources = _sources(tenant_email)
    assert sources == ["hello@tenant.test"] or sources == [TENANT_SENDER]


def _sources(to: str) -> list[str]:
    from moto.ses.models import ses_backends

    return [
        str(message.source)
        for message in ses_backends["123456789012"][REGION].sent_messages
        if to in message.destinations
    ]
