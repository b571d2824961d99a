"""Password reset and change (issue 13): the forgot request does the same work for any address,
the reset token's life (single use, expiry, killed by a password change), sessions ended, the
notice sent."""

from __future__ import annotations

import statistics
import time

import pytest
from sqlalchemy import event

from authapi.app import create_app
from authapi.config import Settings
from authapi.resources import app_resources
from tests.support.accounts import register, unique_email
from tests.support.clock import ManualClock
from tests.support.http import ApiClient, ClientWith, serving, unique_client_ip
from tests.support.lifecycle import Mailer, token_of

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

FORGOT = "/api/v1/auth/password/forgot"
RESET = "/api/v1/auth/password/reset"
CHANGE = "/api/v1/auth/password/change"
PATH = "/reset-password"
NEW = "a brand new passphrase 42"


async def _reset_token(client: ApiClient, mailer: Mailer, clock: ManualClock, email: str) -> str:
    assert (await client.post(FORGOT, json={"email": email})).status == 202
    await mailer.run(clock)
    sent = [m for m in mailer.sent_to(email) if "reset your password" in m.subject]
    return token_of(sent[-1], PATH)


async def test_reset_sets_the_password_ends_every_session_and_sends_a_notice(
    client_with: ClientWith, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        token = await _reset_token(client, mailer, clock, account.email)
        reply = await client.post(RESET, json={"token": token, "new_password": NEW})
        assert reply.status == 204
        assert reply.content == b""
        assert (await client.get("/api/v1/auth/me", headers=account.auth)).status == 401
        refresh = await client.post(
            "/api/v1/auth/refresh-token", json={"refresh_token": account.refresh_token}
        )
        assert refresh.status == 401
        login = {"email": account.email, "password": NEW}
        assert (await client.post("/api/v1/auth/login", json=login)).status == 200
        again = await client.post(RESET, json={"token": token, "new_password": NEW + "x"})
        assert again.code == "invalid_account_token"  # single use
        await mailer.run(clock)
        subjects = [m.subject for m in mailer.sent_to(account.email)]
        assert "Acme Accounts: your password was changed" in subjects


async def test_a_reset_token_expires_and_dies_when_the_password_changes(
    client_with: ClientWith, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        token = await _reset_token(client, mailer, clock, account.email)
        clock.advance(30 * 60 + 1)
        expired = await client.post(RESET, json={"token": token, "new_password": NEW})
        assert expired.code == "invalid_account_token"
        clock.advance(61)
        token = await _reset_token(client, mailer, clock, account.email)
        login = (await client.post("/api/v1/auth/login", json=account.credentials)).body
        bearer = {"Authorization": f"Bearer {login['access_token']}"}  # the first has expired
        change = {"current_password": account.password, "new_password": NEW}
        assert (await client.post(CHANGE, json=change, headers=bearer)).status == 204
        stale = await client.post(RESET, json={"token": token, "new_password": NEW + "y"})
        assert stale.code == "invalid_account_token"  # minted before the change


async def test_a_verification_token_is_the_wrong_purpose_for_a_reset(
    client_with: ClientWith, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        await mailer.run(clock)
        verification = token_of(mailer.sent_to(account.email)[0], "/verify-email")
        reply = await client.post(RESET, json={"token": verification, "new_password": NEW})
        assert reply.code == "invalid_account_token"
        # and it still verifies: the refused try spent nothing
        ok = await client.post("/api/v1/auth/email/verify", json={"token": verification})
        assert ok.status == 204


async def test_change_keeps_the_callers_session_ends_the_others_and_notifies(
    client_with: ClientWith, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    clock = ManualClock()
    async with client_with(clock=clock, **lifecycle) as client:
        account = await register(client)
        other = (await client.post("/api/v1/auth/login", json=account.credentials)).body
        wrong = {"current_password": "not it at all 12", "new_password": NEW}
        refused = await client.post(CHANGE, json=wrong, headers=account.auth)
        assert (refused.status, refused.code) == (403, "wrong_password")
        change = {"current_password": account.password, "new_password": NEW}
        assert (await client.post(CHANGE, json=change, headers=account.auth)).status == 204
        assert (await client.get("/api/v1/auth/me", headers=account.auth)).status == 200
        other_auth = {"Authorization": f"Bearer {other['access_token']}"}
        assert (await client.get("/api/v1/auth/me", headers=other_auth)).status == 401
        await mailer.run(clock)
        subjects = [m.subject for m in mailer.sent_to(account.email)]
        assert "Acme Accounts: your password was changed" in subjects


async def test_forgot_does_the_same_work_for_known_and_unknown_addresses(
    settings: Settings, mailer: Mailer, lifecycle: dict[str, object]
) -> None:
    """Same status, body, statements (text) and queue calls; the medians are printed."""
    clock = ManualClock()
    app = create_app(settings.model_copy(update=lifecycle), clock=clock)
    async with serving(app, client_ip=unique_client_ip()) as client:
        account = await register(client)
        mailer.mail.queued_outbox_ids()  # the registration's
        engine = app_resources(app).database.engine.sync_engine
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

        async def forgot(email: str) -> tuple[int, object, list[str], int]:
            statements.clear()
            reply = await client.post(FORGOT, json={"email": email})
            return reply.status, reply.body, list(statements), len(mailer.mail.queued_outbox_ids())

        known = await forgot(account.email)
        unknown = await forgot(unique_email())
        assert known == unknown
        assert known[0] == 202
        assert known[3] == 1
        assert len(known[2]) == 2
        timings: dict[str, list[float]] = {"known": [], "unknown": []}
        for _ in range(15):
            clock.advance(61 * 60)
            for name, email in (("known", account.email), ("unknown", unique_email())):
                started = time.perf_counter()
                await client.post(FORGOT, json={"email": email})
                timings[name].append((time.perf_counter() - started) * 1000)
        medians = {name: round(statistics.median(ms), 2) for name, ms in timings.items()}
        print(f"forgot medians (ms): {medians}")
