"""The two-tenant isolation suite (issue 17), mail and its tokens: a reset or a verification
asked at tenant B for an address that is only A's queues nothing; a verification, reset or
email-change token minted in A (read from the mail that reached the SES stand-in, as the
lifecycle tests do) is refused at B and still works at A; each tenant's mail links to its own
app (tenant X has an app URL of its own, the others the deployment's).
Directions as in test_isolation_accounts.py; moto stands in for SQS and SES only."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from authapi.db.engine import Database
from authapi.mailer.delivery import Outcome
from authapi.signing.keys import DataKeys
from authapi.tenants import directory
from tests.support.accounts import unique_email
from tests.support.aws import AWS_ENVIRONMENT, REGION
from tests.support.lifecycle import APP_URL, Mailer
from tests.support.mail import SENDER, MailStandIns, SentMail
from tests.support.problems import assert_problem
from tests.support.settings import SESSION_DATA_KEYS
from tests.support.tenancy import (
    DIRECTIONS,
    V1,
    World,
    direction_id,
    link_token,
    password_for,
    register_in,
    same_answer,
    two_tenant_world,
)

if TYPE_CHECKING:
    from authapi.config import Settings
    from tests.support.accounts import Account
    from tests.support.db import ScratchDatabase

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

X_APP_URL = "https://accounts.x.test"  # tenant X's own public_app_url (its tenant settings)
NEW_PASSWORD = "a brand new passphrase 42"


@pytest.fixture(scope="module")
def mail() -> Iterator[MailStandIns]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in AWS_ENVIRONMENT.items():
            patch.setenv(name, value)
        stand_ins = MailStandIns()
        stand_ins.reset()
        patch.setenv("AWS_ENDPOINT_URL_SQS", stand_ins.url)
        patch.setenv("AWS_ENDPOINT_URL_SESV2", stand_ins.url)
        yield stand_ins
        stand_ins.close()


@pytest.fixture(scope="module")
def mail_overrides(mail: MailStandIns) -> dict[str, object]:
    return {
        "mail_queue_url": mail.queue_url,
        "mail_from": SENDER,
        "public_app_url": APP_URL,
        "aws_region": REGION,
    }


@pytest.fixture(scope="module")
async def world(
    settings: Settings, test_database: ScratchDatabase, mail_overrides: dict[str, object]
) -> AsyncIterator[World]:
    async with two_tenant_world(settings, test_database, **mail_overrides) as world:
        await test_database.execute(
            "UPDATE tenants SET settings = $1::jsonb WHERE id = $2",
            json.dumps({"public_app_url": X_APP_URL}),
            world.tenants["X"],
        )
        directory.forget()
        yield world


@pytest.fixture(scope="module")
async def mailer(
    settings: Settings, mail: MailStandIns, mail_overrides: dict[str, object]
) -> AsyncIterator[Mailer]:
    mail_settings = settings.model_copy(update=mail_overrides)
    database = Database(mail_settings)
    yield Mailer(mail, database, mail_settings, DataKeys.parse(SESSION_DATA_KEYS))
    await database.dispose()


def app_url(tenant: str) -> str:
    return X_APP_URL if tenant == "X" else APP_URL


@dataclass
class Inbox:
    """What the mailer delivered since the last look (one address may have two tenants' mail)."""

    world: World
    mailer: Mailer
    seen: int = 0

    async def new_mail(self, to: str, subject_has: str) -> list[SentMail]:
        await self.mailer.run(self.world.clock)
        sent = self.mailer.mail.sent()
        fresh, self.seen = sent[self.seen :], len(sent)
        return [m for m in fresh if to in m.to and subject_has in m.subject]


@pytest.fixture
def inbox(world: World, mailer: Mailer) -> Inbox:
    return Inbox(world, mailer, seen=len(mailer.mail.sent()))


@pytest.fixture(params=DIRECTIONS, ids=direction_id)
def direction(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param


async def test_mail_asked_at_b_for_an_address_only_a_s_never_reaches_a_s_account(
    world: World, inbox: Inbox, direction: tuple[str, str], test_database: ScratchDatabase
) -> None:
    a, b = world.at(direction[0]), world.at(direction[1])
    account = await register_in(a, unique_email(), password_for(direction[0]))
    assert await inbox.new_mail(account.email, "confirm your email")

    # B answers as for any address (it queues one either way, and says nothing of who has it)
    unknown = await b.post(f"{V1}/password/forgot", json={"email": unique_email()})
    assert unknown.status == 202, unknown
    for path in ("password/forgot", "email/verify/resend"):
        world.clock.advance(61)  # past B's own interval for one address
        same_answer(await b.post(f"{V1}/{path}", json={"email": account.email}), unknown)
    queued = inbox.mailer.mail.queued_outbox_ids()
    assert len(queued) == 3
    # none of what B queued is A's account's, and the mailer finds no account for it in B
    owners = await test_database.fetch(
        "SELECT tenant_id, account_id FROM mail_outbox WHERE id = ANY($1::uuid[])",
        [uuid.UUID(outbox_id) for outbox_id in queued],
    )
    assert {(row["tenant_id"], row["account_id"]) for row in owners} == {
        (world.tenants[direction[1]], None)
    }
    outcomes = [await inbox.mailer.deliver(world.clock, outbox_id) for outbox_id in queued]
    assert outcomes == [Outcome.SKIPPED] * 3
    assert await inbox.new_mail(account.email, "") == []

    # and B's asking spent none of A's allowance for that address: A's own reset goes out now
    assert (await a.post(f"{V1}/password/forgot", json={"email": account.email})).status == 202
    [reset] = await inbox.new_mail(account.email, "reset")
    assert link_token(reset, app_url(direction[0]), "/reset-password")


async def _registered_with_its_mail(inbox: Inbox, tenant: str, email: str) -> tuple[Account, str]:
    """`email` registered in `tenant`, and the verification token its mail carried."""
    account = await register_in(inbox.world.at(tenant), email, password_for(tenant))
    [mail] = await inbox.new_mail(email, "confirm your email")
    return account, link_token(mail, app_url(tenant), "/verify-email")


async def test_tokens_minted_in_a_are_refused_at_b_and_spent_at_a(
    world: World, inbox: Inbox, direction: tuple[str, str]
) -> None:
    a_name, b_name = direction
    a, b = world.at(a_name), world.at(b_name)
    email = unique_email()
    a_account, a_verification = await _registered_with_its_mail(inbox, a_name, email)
    b_account, _ = await _registered_with_its_mail(inbox, b_name, email)

    # verification: refused at B (B's account stays unverified), then spent at A
    refused = await b.post(f"{V1}/email/verify", json={"token": a_verification})
    assert_problem(refused, 400, "invalid_account_token")
    assert (await b.get(f"{V1}/me", headers=b_account.auth)).body["email_verified"] is False
    assert (await a.post(f"{V1}/email/verify", json={"token": a_verification})).status == 204
    assert (await a.get(f"{V1}/me", headers=a_account.auth)).body["email_verified"] is True
    assert (await b.get(f"{V1}/me", headers=b_account.auth)).body["email_verified"] is False

    # password reset: refused at B (B's password unchanged), then spent at A
    assert (await a.post(f"{V1}/password/forgot", json={"email": email})).status == 202
    [reset_mail] = await inbox.new_mail(email, "reset")
    reset = {"token": link_token(reset_mail, app_url(a_name), "/reset-password")}
    refused = await b.post(f"{V1}/password/reset", json={**reset, "new_password": NEW_PASSWORD})
    assert_problem(refused, 400, "invalid_account_token")
    assert (await b.post(f"{V1}/login", json=b_account.credentials)).status == 200
    spent = await a.post(f"{V1}/password/reset", json={**reset, "new_password": NEW_PASSWORD})
    assert spent.status == 204, spent
    assert (
        await a.post(f"{V1}/login", json={"email": email, "password": NEW_PASSWORD})
    ).status == 200
    at_b = await b.post(f"{V1}/login", json={"email": email, "password": NEW_PASSWORD})
    assert at_b.code == "invalid_credentials"

    # email change: A's confirmation refused at B, then applied at A alone
    a_login = await a.post(f"{V1}/login", json={"email": email, "password": NEW_PASSWORD})
    a_auth = {"Authorization": f"Bearer {a_login.body['access_token']}"}
    new_email = unique_email()
    change = {"new_email": new_email, "password": NEW_PASSWORD}
    assert (await a.post(f"{V1}/email/change", json=change, headers=a_auth)).status == 202
    [confirmation] = await inbox.new_mail(new_email, "confirm your new email")
    confirm = {"token": link_token(confirmation, app_url(a_name), "/confirm-email-change")}
    assert_problem(
        await b.post(f"{V1}/email/change/confirm", json=confirm), 400, "invalid_account_token"
    )
    assert (await a.post(f"{V1}/email/change/confirm", json=confirm)).status == 204
    assert (await a.get(f"{V1}/me", headers=a_auth)).body["email"] == new_email
    assert (await b.get(f"{V1}/me", headers=b_account.auth)).body["email"] == email


async def test_each_tenant_s_mail_links_to_its_own_app(world: World, inbox: Inbox) -> None:
    for tenant in world.tenants:
        email = unique_email()
        await register_in(world.at(tenant), email, password_for(tenant))
        [mail] = await inbox.new_mail(email, "confirm your email")
        assert link_token(mail, app_url(tenant), "/verify-email")
        if tenant != "X":
            assert X_APP_URL not in mail.text + mail.html
