"""Email change and account deletion (issue 13): confirmation to the new address, notice to the
old, applied only on confirmation, uniqueness decided then; deletion removes the account, its
sessions and tokens, and tells the address."""

from __future__ import annotations

import uuid

import pytest

from tests.support.accounts import register, unique_email
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ClientWith
from tests.support.lifecycle import Mailer, token_of

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

CHANGE = "/api/v1/auth/email/change"
CONFIRM = "/api/v1/auth/email/change/confirm"
DELETE = "/api/v1/auth/me/delete"
PATH = "/confirm-email-change"


async def test_the_change_applies_only_on_confirmation(
    client_with: ClientWith, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        await mailer.run(clock)  # the registration's verification
        new = unique_email()
        wrong = await client.post(
            CHANGE, json={"new_email": new, "password": "not it at all 12"}, headers=account.auth
        )
        assert (wrong.status, wrong.code) == (403, "wrong_password")
        body = {"new_email": new, "password": account.password}
        assert (await client.post(CHANGE, json=body, headers=account.auth)).status == 202
        me = await client.get("/api/v1/auth/me", headers=account.auth)
        assert me.body["email"] == account.email  # nothing changed yet
        await mailer.run(clock)
        (confirmation,) = mailer.sent_to(new)
        assert confirmation.subject == "Acme Accounts: confirm your new email address"
        notices = [m.subject for m in mailer.sent_to(account.email)]
        assert "Acme Accounts: a change of your email address was requested" in notices
        token = token_of(confirmation, PATH)
        assert (await client.post(CONFIRM, json={"token": token})).status == 204
        me = await client.get("/api/v1/auth/me", headers=account.auth)
        assert (me.body["email"], me.body["email_verified"]) == (new, True)
        assert (await client.post(CONFIRM, json={"token": token})).code == "invalid_account_token"
        login = {"email": new, "password": account.password}
        assert (await client.post("/api/v1/auth/login", json=login)).status == 200


async def test_an_address_taken_meanwhile_is_a_clean_conflict(
    client_with: ClientWith, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        new = unique_email()
        body = {"new_email": new, "password": account.password}
        assert (await client.post(CHANGE, json=body, headers=account.auth)).status == 202
        await mailer.run(clock)
        token = token_of(mailer.sent_to(new)[0], PATH)
        await register(client, email=new)  # someone else registers it first
        reply = await client.post(CONFIRM, json={"token": token})
        assert (reply.status, reply.code) == (409, "email_taken")
        assert reply.headers["content-type"] == "application/problem+json"


async def test_tokens_minted_before_an_email_change_die(
    client_with: ClientWith, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        await client.post("/api/v1/auth/password/forgot", json={"email": account.email})
        new = unique_email()
        body = {"new_email": new, "password": account.password}
        await client.post(CHANGE, json=body, headers=account.auth)
        await mailer.run(clock)
        verification = token_of(mailer.sent_to(account.email)[0], "/verify-email")
        reset = next(
            token_of(m, "/reset-password")
            for m in mailer.sent_to(account.email)
            if "reset" in m.subject
        )
        confirm = await client.post(CONFIRM, json={"token": token_of(mailer.sent_to(new)[0], PATH)})
        assert confirm.status == 204
        reply = await client.post(
            "/api/v1/auth/password/reset",
            json={"token": reset, "new_password": "a brand new passphrase 42"},
        )
        assert reply.code == "invalid_account_token"
        reply = await client.post("/api/v1/auth/email/verify", json={"token": verification})
        assert reply.code == "invalid_account_token"


async def test_deletion_removes_the_account_and_tells_its_address(
    client_with: ClientWith,
    mailer: Mailer,
    lifecycle: dict[str, object],
    test_database: ScratchDatabase,
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        await mailer.run(clock)  # mints the verification token: one row to be removed
        wrong = await client.post(
            DELETE, json={"password": "not it at all 12"}, headers=account.auth
        )
        assert (wrong.status, wrong.code) == (403, "wrong_password")
        reply = await client.post(DELETE, json={"password": account.password}, headers=account.auth)
        assert reply.status == 204
        assert (await client.get("/api/v1/auth/me", headers=account.auth)).status == 401
        user_id = uuid.UUID(account.user_id)
        for table, column in (
            ("users", "id"),
            ("auth_sessions", "user_id"),
            ("device_tokens", "user_id"),
            ("account_tokens", "account_id"),
        ):
            count = await test_database.fetchval(
                f"SELECT count(*) FROM {table} WHERE {column} = $1",  # noqa: S608 (constants)
                user_id,
            )
            assert count == 0, table
        assert (await client.post("/api/v1/auth/login", json=account.credentials)).status == 401
        await mailer.run(clock)
        subjects = [m.subject for m in mailer.sent_to(account.email)]
        assert "Acme Accounts: your account was deleted" in subjects
        await register(client, email=account.email)  # the address is free again
