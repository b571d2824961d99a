"""Abuse rows are deleted on their own horizons by the maintenance run, never by a request.

Issue 9, item 2: a random purge on every rate-limit hit (refused ones included) deleted login
throttles older than the one-minute rate-limit window, so junk requests reset every account's
failure count and the doubling lock.
"""

from __future__ import annotations

import random

import pytest

from tests.support.accounts import STRONG_PASSWORD, register
from tests.support.clock import ManualClock
from tests.support.http import ClientWith

pytestmark = pytest.mark.integration

JUNK_REFRESH = {"refresh_token": "rt_" + "x" * 43}


async def test_refused_requests_never_reset_an_accounts_failure_count(
    client_with: ClientWith, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a purge run by chance from requests ran on 0.2% of hits: make every hit the unlucky one,
    # so that a request path that deletes throttle rows at all fails here every time
    monkeypatch.setattr(random, "random", lambda: 0.0)
    clock = ManualClock()
    async with client_with(clock=clock, login_max_failures=5, rate_limit_refresh=2) as client:
        account = await register(client)
        wrong = {"email": account.email, "password": "not the password at all"}
        first = [(await client.post("/api/auth/login", json=wrong)).status for _ in range(3)]
        # past the rate-limit window (60 s), well inside the failure window (15 minutes)
        clock.advance(120)
        junk = [
            (await client.post("/api/auth/refresh-token", json=JUNK_REFRESH)).status
            for _ in range(20)
        ]
        then = [(await client.post("/api/auth/login", json=wrong)).status for _ in range(2)]
        right = await client.post(
            "/api/auth/login", json={"email": account.email, "password": STRONG_PASSWORD}
        )

    assert first == [401] * 3
    assert junk == [401] * 2 + [429] * 18
    assert then == [401] * 2
    # five failures in the window: the account is locked, even for the right password
    assert right.status == 429
    assert right.body["code"] == "too_many_attempts"
