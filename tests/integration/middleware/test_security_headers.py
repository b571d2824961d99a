"""Headers on every answer, and refusals in the one error format (issue 9, item 12)."""

from __future__ import annotations

import pytest

from tests.support.accounts import Account
from tests.support.http import ApiClient, ClientWith
from tests.support.problems import assert_problem

pytestmark = pytest.mark.integration


async def test_every_answer_says_nosniff(client: ApiClient, account: Account) -> None:
    replies = [
        await client.get("/health"),
        await client.get("/api/auth/me", headers=account.auth),
        await client.get("/nowhere"),
        await client.post(
            "/api/auth/login", content=b"{", headers={"content-type": "application/json"}
        ),
    ]
    assert [reply.headers.get("x-content-type-options") for reply in replies] == ["nosniff"] * 4


async def test_me_is_never_cached(client: ApiClient, account: Account) -> None:
    reply = await client.get("/api/auth/me", headers=account.auth)
    assert reply.status == 200
    assert reply.headers["cache-control"] == "no-store"


async def test_the_jwks_keeps_its_own_caching(client: ApiClient) -> None:
    reply = await client.get("/.well-known/jwks.json")
    assert reply.headers["cache-control"] == "public, max-age=300"


async def test_a_refused_cors_preflight_is_a_problem(client_with: ClientWith) -> None:
    async with client_with(allowed_origins=["https://app.example"]) as api:
        refused = await api.options(
            "/api/auth/login",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        allowed = await api.options(
            "/api/auth/login",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "POST"},
        )
    assert_problem(refused, 400, "cors_preflight_refused")
    assert "access-control-allow-origin" not in refused.headers
    assert allowed.status == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
