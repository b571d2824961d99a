"""Per-account brute-force protection on login."""

from __future__ import annotations

import pytest

from tests.support.accounts import STRONG_PASSWORD, register, unique_email
from tests.support.clock import ManualClock
from tests.support.http import ApiClient, ClientWith, Reply

pytestmark = pytest.mark.integration


async def _login(client: ApiClient, email: str, password: str) -> Reply:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


async def test_fifty_wrong_passwords_end_in_429_with_retry_after(client_with: ClientWith) -> None:
    async with client_with(login_max_failures=5) as client:
        account = await register(client)
        statuses = []
        last = None
        for _ in range(50):
            last = await _login(client, account.email, "wrong password " * 2)
            statuses.append(last.status)

    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429] * 45
    assert last is not None
    assert last.body["code"] == "too_many_attempts"
    assert last.headers["content-type"] == "application/problem+json"
    assert 1 <= int(last.headers["retry-after"]) <= 15 * 60


async def test_the_right_password_does_not_open_a_locked_account(client_with: ClientWith) -> None:
    async with client_with(login_max_failures=3) as client:
        account = await register(client)
        for _ in range(3):
            await _login(client, account.email, "wrong password!")

        response = await _login(client, account.email, account.password)

    assert response.status == 429


async def test_locked_unknown_and_locked_real_accounts_look_the_same(
    client_with: ClientWith, hash_verifications: list[str]
) -> None:
    async with client_with(login_max_failures=3) as client:
        account = await register(client)
        unknown = unique_email()
        for _ in range(3):
            await _login(client, account.email, "wrong password!")
            await _login(client, unknown, "wrong password!")
        hash_verifications.clear()
        real = await _login(client, account.email, "wrong password!")
        fake = await _login(client, unknown, "wrong password!")

    assert real.status == fake.status == 429
    assert {k: v for k, v in real.body.items() if k != "request_id"} == {
        k: v for k, v in fake.body.items() if k != "request_id"
    }
    assert real.headers["retry-after"] == fake.headers["retry-after"]
    assert hash_verifications == []  # neither answer spent a hash: same work, same time, for both


async def test_owner_logs_in_after_the_window_and_success_resets(client_with: ClientWith) -> None:
    clock = ManualClock()
    async with client_with(
        clock=clock,
        login_max_failures=3,
        login_lockout_base_seconds=1,
        login_lockout_max_seconds=1,
        login_failure_window_seconds=60,
    ) as client:
        account = await register(client)
        for _ in range(3):
            await _login(client, account.email, "a stranger guessing")
        assert (await _login(client, account.email, account.password)).status == 429

        clock.advance(1.2)
        owner = await _login(client, account.email, account.password)
        assert owner.status == 200

        # the slate is clean: the next mistake is an ordinary 401, not a lock
        assert (await _login(client, account.email, "one typo")).status == 401
        assert (await _login(client, account.email, account.password)).status == 200


async def test_delays_grow_with_further_failures(client_with: ClientWith) -> None:
    clock = ManualClock()
    async with client_with(
        clock=clock, login_max_failures=2, login_lockout_base_seconds=1, login_lockout_max_seconds=3
    ) as client:
        account = await register(client)
        await _login(client, account.email, "guess one")
        await _login(client, account.email, "guess two")  # second failure: locked for 1s
        first = await _login(client, account.email, "guess three")
        clock.advance(1.1)
        await _login(client, account.email, "guess four")  # third failure: locked for 2s
        second = await _login(client, account.email, "guess five")

    assert int(first.headers["retry-after"]) == 1
    assert int(second.headers["retry-after"]) == 2


async def test_failures_on_one_account_do_not_lock_another(client_with: ClientWith) -> None:
    async with client_with(login_max_failures=2) as client:
        victim = await register(client)
        bystander = await register(client)
        for _ in range(5):
            await _login(client, victim.email, "wrong password!")

        assert (await _login(client, bystander.email, STRONG_PASSWORD)).status == 200
