"""Email verification (issue 13): the message registration sends (code and link, through the
outbox, the mailer and the SES stand-in), verifying with either, resend, and the failures."""

from __future__ import annotations

import uuid

import jwt
import pytest

from tests.support.accounts import register, unique_email
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ClientWith
from tests.support.lifecycle import Mailer, code_of, token_of

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

VERIFY = "/api/v1/auth/email/verify"
RESEND = "/api/v1/auth/email/verify/resend"
PATH = "/verify-email"


async def test_registration_sends_a_code_and_a_link_and_the_link_verifies(
    client_with: ClientWith, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        assert (await client.get("/api/v1/auth/me", headers=account.auth)).body[
            "email_verified"
        ] is False
        claims = jwt.decode(account.access_token, options={"verify_signature": False})
        assert claims["email_verified"] is False
        await mailer.run(clock)
        (sent,) = mailer.sent_to(account.email)
        assert sent.subject == "Acme Accounts: confirm your email address"
        token = token_of(sent, PATH)
        code_of(sent)
        # opening the link is the web app's business: no GET here spends anything
        assert (await client.get(VERIFY)).status == 405
        assert (await client.post(VERIFY, json={"token": token})).status == 204
        me = await client.get("/api/v1/auth/me", headers=account.auth)
        assert me.body["email_verified"] is True
        again = await client.post(VERIFY, json={"token": token})  # single use
        assert (again.status, again.code) == (400, "invalid_account_token")
        login = await client.post("/api/v1/auth/login", json=account.credentials)
        claims = jwt.decode(login.body["access_token"], options={"verify_signature": False})
        assert claims["email_verified"] is True
        assert login.body["user"]["email_verified"] is True


async def test_the_code_verifies_and_five_wrong_tries_kill_it(
    client_with: ClientWith, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        await mailer.run(clock)
        code = code_of(mailer.sent_to(account.email)[0])
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for _ in range(5):
            reply = await client.post(VERIFY, json={"email": account.email, "code": wrong})
            assert reply.code == "invalid_account_token"
        # the right code, too late: its five tries are used up, a new one is needed
        reply = await client.post(VERIFY, json={"email": account.email, "code": code})
        assert reply.code == "invalid_account_token"
        clock.advance(61)
        assert (await client.post(RESEND, json={"email": account.email})).status == 202
        await mailer.run(clock)
        fresh = code_of(mailer.sent_to(account.email)[-1])
        reply = await client.post(VERIFY, json={"email": account.email, "code": fresh})
        assert reply.status == 204


async def test_expired_and_superseded_tokens_are_refused(
    client_with: ClientWith, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        await mailer.run(clock)
        first = token_of(mailer.sent_to(account.email)[0], PATH)
        clock.advance(61)
        await client.post(RESEND, json={"email": account.email})
        await mailer.run(clock)
        second = token_of(mailer.sent_to(account.email)[-1], PATH)
        assert (await client.post(VERIFY, json={"token": first})).code == "invalid_account_token"
        clock.advance(24 * 3600 + 1)
        assert (await client.post(VERIFY, json={"token": second})).code == "invalid_account_token"


async def test_resend_answers_the_same_for_any_address_and_is_throttled_per_address(
    client_with: ClientWith, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        known = await client.post(RESEND, json={"email": account.email})
        unknown = await client.post(RESEND, json={"email": unique_email()})
        assert (known.status, known.body) == (unknown.status, unknown.body)
        assert known.status == 202
        again = await client.post(RESEND, json={"email": account.email})
        assert again.status == 429
        assert int(again.headers["retry-after"]) <= 60
        for _ in range(4):
            clock.advance(61)
            assert (await client.post(RESEND, json={"email": account.email})).status == 202
        clock.advance(61)  # the sixth in the hour
        assert (await client.post(RESEND, json={"email": account.email})).status == 429
        outcomes = await mailer.run(clock)
        # the registration's and six resends, for the account; the unknown address gets none
        assert len(outcomes) == 7
        assert len(mailer.sent_to(account.email)) == 6
        await client.post(VERIFY, json={"token": token_of(mailer.sent_to(account.email)[-1], PATH)})


async def test_a_verified_account_is_sent_nothing_on_resend(
    client_with: ClientWith, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        await mailer.run(clock)
        token = token_of(mailer.sent_to(account.email)[0], PATH)
        assert (await client.post(VERIFY, json={"token": token})).status == 204
        assert (await client.post(RESEND, json={"email": account.email})).status == 202
        await mailer.run(clock)
        assert len(mailer.sent_to(account.email)) == 1


async def test_required_verification_gates_sign_in(
    client_with: ClientWith, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, require_verified_email=True, **lifecycle) as client:
        email = unique_email()
        credentials = {"email": email, "password": "correct horse battery staple 7"}
        reply = await client.post("/api/v1/auth/register", json=credentials)
        assert reply.status == 201
        assert "access_token" not in reply.body
        assert reply.body["verification_required"] is True
        wrong = await client.post(
            "/api/v1/auth/login", json={"email": email, "password": "not the password 1"}
        )
        assert wrong.code == "invalid_credentials"  # a wrong password learns nothing more
        refused = await client.post("/api/v1/auth/login", json=credentials)
        assert (refused.status, refused.code) == (403, "email_not_verified")
        await mailer.run(clock)
        token = token_of(mailer.sent_to(email)[0], PATH)
        assert (await client.post(VERIFY, json={"token": token})).status == 204
        assert (await client.post("/api/v1/auth/login", json=credentials)).status == 200


async def test_required_verification_refuses_refresh_of_an_unverified_session(
    client_with: ClientWith, lifecycle: dict[str, object]
) -> None:
    async with client_with(**lifecycle) as client:
        account = await register(client)  # registered while the setting was off
    async with client_with(require_verified_email=True, **lifecycle) as client:
        reply = await client.post(
            "/api/v1/auth/refresh-token", json={"refresh_token": account.refresh_token}
        )
        assert (reply.status, reply.code) == (403, "email_not_verified")


async def test_a_second_send_of_one_message_replaces_its_token(
    client_with: ClientWith,
    mailer: Mailer,
    lifecycle: dict[str, object],
    test_database: ScratchDatabase,
) -> None:
    """The duplicate window (README "Mail delivery"): the mailer died after SES accepted the
    message, so it is sent again. One token per outbox row: the copy sent last works."""
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        (outbox_id,) = mailer.mail.queued_outbox_ids()
        for _ in range(2):
            await test_database.execute(
                "UPDATE mail_outbox SET status = 'pending', claimed_until = NULL WHERE id = $1",
                uuid.UUID(outbox_id),
            )
            await mailer.deliver(clock, outbox_id)
        first, second = mailer.sent_to(account.email)
        rows = await test_database.fetchval(
            "SELECT count(*) FROM account_tokens WHERE outbox_id = $1", uuid.UUID(outbox_id)
        )
        assert rows == 1
        stale = await client.post(VERIFY, json={"token": token_of(first, PATH)})
        assert stale.code == "invalid_account_token"
        assert (await client.post(VERIFY, json={"token": token_of(second, PATH)})).status == 204
