"""Per-IP rate limits on login, register and refresh, keyed by the address we saw."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.accounts import STRONG_PASSWORD, register, unique_email
from tests.support.clock import ManualClock
from tests.support.http import ClientWith

pytestmark = pytest.mark.integration


async def test_rotating_x_forwarded_for_does_not_reset_the_login_limit(
    client_with: ClientWith,
) -> None:
    async with client_with(rate_limit_login=5, rate_limit_window_seconds=3600) as client:
        statuses = []
        for attempt in range(8):
            response = await client.post(
                "/api/auth/login",
                json={"email": unique_email(), "password": "whatever it is"},
                headers={
                    "X-Forwarded-For": f"198.51.100.{attempt}",
                    "X-Real-IP": f"203.0.113.{attempt}",
                },
            )
            statuses.append(response.status)

    assert statuses == [401] * 5 + [429] * 3
    assert response.body["code"] == "too_many_attempts"
    assert 1 <= int(response.headers["retry-after"]) <= 3600


async def test_register_limit_counts_refused_registrations_too(client_with: ClientWith) -> None:
    async with client_with(rate_limit_register=3, rate_limit_window_seconds=3600) as client:
        email = unique_email()
        statuses = [
            (
                await client.post(
                    "/api/auth/register", json={"email": email, "password": STRONG_PASSWORD}
                )
            ).status
            for _ in range(5)
        ]

    # enumerating emails through 409s is exactly what the limit is for
    assert statuses == [201, 409, 409, 429, 429]


async def test_refresh_limit(client_with: ClientWith) -> None:
    async with client_with(rate_limit_refresh=2, rate_limit_window_seconds=3600) as client:
        statuses = [
            (
                await client.post(
                    "/api/auth/refresh-token", json={"refresh_token": "rt_" + "x" * 43}
                )
            ).status
            for _ in range(4)
        ]

    assert statuses == [401, 401, 429, 429]


async def test_limits_are_per_action(client_with: ClientWith) -> None:
    async with client_with(rate_limit_login=1, rate_limit_window_seconds=3600) as client:
        account = await register(client)
        await client.post("/api/auth/login", json={"email": account.email, "password": "nope nope"})
        blocked = await client.post(
            "/api/auth/login", json={"email": account.email, "password": STRONG_PASSWORD}
        )
        me = await client.get("/api/auth/me", headers=account.auth)

    assert blocked.status == 429
    assert me.status == 200


async def test_a_new_window_starts_a_new_count(client_with: ClientWith) -> None:
    # just after a window starts
    clock = ManualClock(datetime.now(UTC).replace(microsecond=50_000))
    async with client_with(clock=clock, rate_limit_login=1, rate_limit_window_seconds=1) as client:
        body = {"email": unique_email(), "password": "nope nope"}
        first = await client.post("/api/auth/login", json=body)
        second = await client.post("/api/auth/login", json=body)
        clock.advance(1.1)
        third = await client.post("/api/auth/login", json=body)

    assert (first.status, second.status, third.status) == (401, 429, 401)


async def test_each_429_is_counted(client_with: ClientWith) -> None:
    from authapi.observability import metrics

    counted: list[str] = []
    metrics.install_sink(counted.append)
    try:
        async with client_with(rate_limit_login=1, rate_limit_window_seconds=3600) as client:
            for _ in range(3):
                await client.post(
                    "/api/auth/login", json={"email": unique_email(), "password": "nope nope"}
                )
    finally:
        metrics.install_sink(None)

    assert counted.count("TooManyAttempts") == 2
