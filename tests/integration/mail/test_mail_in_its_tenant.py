"""The mailer works across tenants and acts in each row's own (issue 17): the queue message
names an outbox row, not its tenant; the claim finds it in any tenant, and the account it
writes to and the token it mints are that tenant's, even where another tenant has an account
with the same address."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from authapi.db.session import request_session
from authapi.mailer.delivery import Outcome
from authapi.outbox.messages import EMAIL_VERIFICATION, OutboxMessage, enqueue
from authapi.tenant_scope import DEFAULT_TENANT, current_tenant
from authapi.users.repository import NewUser
from tests.support.accounts import unique_email
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.lifecycle import Mailer

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def default_tenant_afterwards() -> Iterator[None]:
    token = current_tenant.set(DEFAULT_TENANT)
    yield
    current_tenant.reset(token)


async def test_a_mail_of_another_tenant_is_sent_for_that_tenants_account(
    mailer: Mailer, test_database: ScratchDatabase
) -> None:
    tenant_id = f"t-{uuid.uuid4().hex[:12]}"
    await test_database.execute(
        "INSERT INTO tenants (id, name, created_at) VALUES ($1, $1, now())", tenant_id
    )
    email = unique_email()
    accounts: dict[str, uuid.UUID] = {}
    message = OutboxMessage(kind=EMAIL_VERIFICATION, purpose=EMAIL_VERIFICATION)
    for tenant in (DEFAULT_TENANT, tenant_id):
        current_tenant.set(tenant)
        user = NewUser(id=uuid.uuid4(), email=email, password_hash="not a hash", created_at=NOW)
        accounts[tenant] = user.id
        async with request_session(mailer.database) as db:
            await db.execute(user.insert())
            if tenant == tenant_id:
                await db.execute(enqueue(message, now=NOW, account_id=user.id))
    current_tenant.set(DEFAULT_TENANT)  # the mailer's own context: nothing says the tenant

    assert await mailer.deliver(ManualClock(NOW), str(message.id)) is Outcome.SENT

    assert len(mailer.sent_to(email)) == 1
    row = await test_database.fetch(
        "SELECT tenant_id, status FROM mail_outbox WHERE id = $1", message.id
    )
    assert [tuple(r) for r in row] == [(tenant_id, "sent")]
    tokens = await test_database.fetch(
        "SELECT tenant_id, account_id FROM account_tokens WHERE outbox_id = $1", message.id
    )
    assert [tuple(t) for t in tokens] == [(tenant_id, accounts[tenant_id])]
    assert current_tenant.get() == DEFAULT_TENANT  # the row's tenant did not leak out
