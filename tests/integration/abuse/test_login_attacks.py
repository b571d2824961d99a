"""Attacks on login, each as an attacker ran it against the service (issue 9), and what stops it.

- a burst of guesses racing the lock: counted before the hash, so at most the limit is checked;
- a stranger locking the owner out: the lock is the stranger's own (account, address) pair, the
  account-wide layer only slows checks down, and a device token passes it;
- a web page posting the login form from its visitors' browsers: refused as cross-site;
- a disabled account: sessions end, and a correct password answers like a wrong one;
- a login holding its transaction open while argon2 runs: it holds none.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI

from authapi.abuse import login_throttle
from authapi.app import create_app
from authapi.auth.accounts import set_account_active
from authapi.config import Settings
from authapi.observability import metrics
from authapi.resources import app_resources
from tests.support.accounts import Account, register
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, Reply, unique_client_ip
from tests.support.logs import log_records

pytestmark = pytest.mark.integration

WRONG = "not the password, a guess"
LOGIN = "/api/auth/login"
FORM = {"content-type": "application/x-www-form-urlencoded"}


@asynccontextmanager
async def an_app(
    settings: Settings, clock: ManualClock | None = None, **overrides: Any
) -> AsyncIterator[FastAPI]:
    """One app (one database, one clock) that many clients, from many addresses, can call."""
    app = create_app(settings.model_copy(update=overrides), clock=clock)
    try:
        yield app
    finally:
        await app_resources(app).aclose()


def client_from(app: FastAPI, address: str | None = None) -> ApiClient:
    return ApiClient.asgi(app, client_ip=address or unique_client_ip())


async def login(client: ApiClient, email: str, password: str, **extra: str) -> Reply:
    return await client.post(LOGIN, json={"email": email, "password": password, **extra})


@pytest.fixture
def counted_metrics() -> Any:
    names: list[str] = []
    metrics.install_sink(names.append)
    yield names
    metrics.install_sink(None)


# 1. the racing burst


async def test_a_30_way_burst_checks_at_most_5_passwords(
    settings: Settings, hash_verifications: list[str]
) -> None:
    # Concurrent requests reach the counter in no set order, so the burst is all wrong guesses
    # (a right one counted among the first five would succeed, as it should, and reset its
    # pair); the right password after the burst is the attack that used to succeed every time.
    async with an_app(settings, login_max_failures=5) as app:
        attacker = client_from(app)
        account = await register(attacker)
        hash_verifications.clear()
        replies = await asyncio.gather(*(login(attacker, account.email, WRONG) for _ in range(30)))
        checked_in_burst = len(hash_verifications)
        right_password = await login(attacker, account.email, account.password)

    assert checked_in_burst <= 5
    statuses = [reply.status for reply in replies]
    assert statuses.count(429) >= 25
    assert all(reply.headers["retry-after"].isdigit() for reply in replies if reply.status == 429)
    assert right_password.status == 429
    assert len(hash_verifications) == checked_in_burst  # refused before any hash


async def test_a_success_gives_back_only_its_own_attempt(
    settings: Settings, test_database: ScratchDatabase
) -> None:
    clock = ManualClock()
    async with an_app(settings, clock, login_max_failures=5, login_account_max_failures=20) as app:
        owner = client_from(app)
        account = await register(owner)
        for _ in range(3):
            assert (await login(client_from(app), account.email, WRONG)).status == 401
        assert (await login(owner, account.email, account.password)).status == 200
        ring = await app_resources(app).key_provider.key_ring()
    keys = login_throttle.login_keys(ring.data_keys, email=account.email, client="192.0.2.1")
    # the three strangers' failures stand on the account-wide count; the owner's success is gone
    failures = await test_database.fetchval(
        "SELECT failures FROM login_throttles WHERE account_key = $1", keys.account
    )
    assert failures == 3


# 3. a stranger cannot lock the owner out


async def test_a_strangers_lock_is_the_strangers_alone(settings: Settings) -> None:
    async with an_app(settings, ManualClock(), login_max_failures=3) as app:
        owner, stranger = client_from(app), client_from(app)
        account = await register(owner)
        for _ in range(6):
            await login(stranger, account.email, WRONG)
        assert (await login(stranger, account.email, account.password)).status == 429
        # the owner, from an address of their own, without even a device token
        assert (await login(owner, account.email, account.password)).status == 200


async def test_fifty_attacking_addresses_never_refuse_a_device_token(settings: Settings) -> None:
    clock = ManualClock()
    overrides = {
        "login_max_failures": 5,
        "login_account_max_failures": 20,
        "login_account_check_interval_seconds": 10,
    }
    async with an_app(settings, clock, **overrides) as app:
        owner = client_from(app)
        account = await register(owner)
        device_token = (await login(owner, account.email, account.password)).body["device_token"]
        attackers = [client_from(app, f"203.0.113.{n}") for n in range(1, 51)]
        owner_statuses = []
        # 50 addresses at 30 attempts a minute each (25 a second), for 12 seconds: past the
        # account-wide limit within the first second, then one check per 10 s for all of them
        for second in range(12):
            for attacker in attackers[second % 2 :: 2]:
                await login(attacker, account.email, WRONG)
            clock.advance(1)
            if second % 4 == 0:
                reply = await login(
                    owner, account.email, account.password, device_token=device_token
                )
                owner_statuses.append(reply.status)
                device_token = reply.body.get("device_token", device_token)

        assert owner_statuses == [200] * 3
        # without a device token, from a clean address, right behind an attacker's attempt:
        # slowed down, never walled off
        await login(attackers[0], account.email, WRONG)
        refused = await login(client_from(app), account.email, account.password)
        assert refused.status == 429
        assert 1 <= int(refused.headers["retry-after"]) <= 10
        clock.advance(int(refused.headers["retry-after"]))
        assert (await login(client_from(app), account.email, account.password)).status == 200


async def test_a_device_token_is_replaced_by_each_sign_in(
    settings: Settings, test_database: ScratchDatabase
) -> None:
    async with an_app(settings) as app:
        client = client_from(app)
        account = await register(client)
        first = (await login(client, account.email, account.password)).body["device_token"]
        second = (await login(client, account.email, account.password, device_token=first)).body
    assert second["device_token"] != first
    assert second["device_token"].startswith("dt_")
    # registration's token, and the second login's; the first was spent replacing itself
    rows = await test_database.fetchval(
        "SELECT count(*) FROM device_tokens WHERE user_id = $1::uuid", account.user_id
    )
    assert rows == 2


async def test_lockout_is_logged_and_counted_without_the_email(
    settings: Settings, capsys: pytest.CaptureFixture[str], counted_metrics: list[str]
) -> None:
    async with an_app(settings, login_max_failures=2) as app:
        attacker = client_from(app, "198.51.100.7")
        account = await register(attacker)
        capsys.readouterr()
        for _ in range(3):
            await login(attacker, account.email, WRONG)
    records = log_records(capsys.readouterr().out)
    security = [
        r
        for r in records
        if r["message"] in ("login failed", "account.locked", "login refused: throttled")
    ]
    assert [r["message"] for r in security] == [
        "login failed",
        "account.locked",
        "login failed",
        "login refused: throttled",
    ]
    assert counted_metrics.count(metrics.ACCOUNT_LOCKED) == 1
    for record in security:
        assert record["level"] == "WARNING"
        assert record["client_ip"] == "198.51.100.7"
        assert len(record["account"]) == 24
        assert account.email not in str(record)
        assert WRONG not in str(record)
    assert {r.get("reason") for r in security if r["message"] == "login failed"} == {
        "wrong_password"
    }


# 3. the login form, posted by someone else's page


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "https://evil.example"},
    ],
)
async def test_a_cross_site_form_post_is_refused(
    client: ApiClient, account: Account, headers: dict[str, str]
) -> None:
    body = f"username={account.email}&password={account.password}"
    reply = await client.post(LOGIN, content=body, headers={**FORM, **headers})
    assert reply.status == 403
    assert reply.code == "cross_site_request"
    assert reply.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    "headers",
    [{}, {"sec-fetch-site": "same-origin"}, {"sec-fetch-site": "none"}],
    ids=["no browser headers (curl, servers)", "same origin", "typed by the user"],
)
async def test_a_form_post_from_the_service_itself_or_no_browser_passes(
    client: ApiClient, account: Account, headers: dict[str, str]
) -> None:
    body = f"username={account.email}&password={account.password}"
    reply = await client.post(LOGIN, content=body, headers={**FORM, **headers})
    assert reply.status == 200, reply


async def test_a_form_post_from_an_allowed_origin_passes(settings: Settings) -> None:
    async with an_app(settings, allowed_origins=["https://app.example"]) as app:
        client = client_from(app)
        account = await register(client)
        body = f"username={account.email}&password={account.password}"
        headers = {**FORM, "origin": "https://app.example", "sec-fetch-site": "cross-site"}
        assert (await client.post(LOGIN, content=body, headers=headers)).status == 403
        headers["sec-fetch-site"] = "same-origin"  # an allowed origin, fetched by its own page
        assert (await client.post(LOGIN, content=body, headers=headers)).status == 200


# 7. disabled accounts


async def _disable(settings: Settings, email: str, *, active: bool = False) -> None:
    from authapi.db.engine import Database
    from authapi.db.session import unit_of_work

    database = Database(settings)
    try:
        async with unit_of_work(database) as db:
            assert await set_account_active(db, email=email, active=active, now=ManualClock().now())
    finally:
        await database.dispose()


async def test_disabling_ends_every_session_and_enabling_revives_none(
    settings: Settings, client: ApiClient, account: Account
) -> None:
    second = await login(client, account.email, account.password)
    await _disable(settings, account.email)
    await _disable(settings, account.email, active=True)
    for access_token in (account.access_token, second.body["access_token"]):
        me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {access_token}"})
        assert me.status == 401
    refresh = await client.post(
        "/api/auth/refresh-token", json={"refresh_token": second.body["refresh_token"]}
    )
    assert refresh.status == 401
    # enabled again: a new login works
    assert (await login(client, account.email, account.password)).status == 200


async def test_disabling_by_plain_sql_ends_every_session_too(
    client: ApiClient, account: Account, test_database: ScratchDatabase
) -> None:
    await test_database.execute(
        "UPDATE users SET is_active = false WHERE email = $1", account.email
    )
    me = await client.get("/api/auth/me", headers=account.auth)
    assert me.status == 401
    reasons = await test_database.fetch(
        "SELECT revoke_reason FROM auth_sessions WHERE user_id = $1::uuid", account.user_id
    )
    assert [row["revoke_reason"] for row in reasons] == ["account_disabled"]


async def test_a_disabled_account_answers_like_a_wrong_password_and_counts(
    settings: Settings, test_database: ScratchDatabase
) -> None:
    async with an_app(settings, login_max_failures=2) as app:
        client = client_from(app)
        account = await register(client)
        await _disable(settings, account.email)
        right = await login(client, account.email, account.password)
        wrong = await login(client, account.email, WRONG)
        third = await login(client, account.email, account.password)
    assert right.status == wrong.status == 401
    assert _without_request_id(right) == _without_request_id(wrong)
    assert right.code == "invalid_credentials"
    assert third.status == 429  # both attempts counted as failures


def _without_request_id(reply: Reply) -> dict[str, Any]:
    return {key: value for key, value in reply.body.items() if key != "request_id"}


# 11. no transaction open while argon2 runs


async def test_the_password_is_checked_with_no_transaction_open(
    settings: Settings, test_database: ScratchDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    from argon2 import PasswordHasher

    seen: list[list[str]] = []
    original = PasswordHasher.verify

    def verify(self: PasswordHasher, hash: str, password: str | bytes) -> bool:
        async def states() -> list[str]:
            connection = await asyncpg.connect(test_database.dsn)
            try:
                rows = await connection.fetch(
                    "SELECT state FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()"
                )
                return [row["state"] for row in rows]
            finally:
                await connection.close()

        seen.append(asyncio.run(states()))  # argon2 runs on a worker thread: a loop of its own
        return original(self, hash, password)

    async with an_app(settings) as app:
        client = client_from(app)
        account = await register(client)
        monkeypatch.setattr(PasswordHasher, "verify", verify)
        assert (await login(client, account.email, account.password)).status == 200
    assert seen
    assert all("idle in transaction" not in states for states in seen), seen


async def test_the_app_role_has_server_side_timeouts(test_database: ScratchDatabase) -> None:
    connection = await asyncpg.connect(test_database.dsn)
    try:
        assert await connection.fetchval("SHOW statement_timeout") == "5s"
        assert await connection.fetchval("SHOW lock_timeout") == "2s"
        assert await connection.fetchval("SHOW idle_in_transaction_session_timeout") == "10s"
    finally:
        await connection.close()


# 9. refused tokens leave a line too


async def test_refused_tokens_are_logged_with_the_reason_and_address_never_the_token(
    client: ApiClient, account: Account, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    forged = account.access_token[:-4] + (
        "AAAA" if not account.access_token.endswith("AAAA") else "BBBB"
    )
    await client.get("/api/auth/me", headers={"Authorization": f"Bearer {forged}"})
    await client.post("/api/auth/refresh-token", json={"refresh_token": "rt_" + "x" * 43})
    await client.post("/api/auth/logout", headers=account.auth)
    await client.get("/api/auth/me", headers=account.auth)  # its session is over
    output = capsys.readouterr().out
    refused = [r for r in log_records(output) if r["message"].endswith("token refused")]
    assert [(r["message"], r["reason"]) for r in refused] == [
        ("access token refused", "InvalidSignatureError"),
        ("refresh token refused", "unknown_expired_or_revoked"),
        ("access token refused", "session_ended"),
    ]
    for record in refused:
        assert record["level"] == "WARNING"
        assert record["client_ip"]
    assert forged not in output
    assert account.access_token not in output
