"""GET /api/auth/me and POST /api/auth/logout."""

from __future__ import annotations

import pytest

from tests.support.accounts import Account
from tests.support.http import ApiClient

pytestmark = pytest.mark.integration


async def test_me_returns_the_account(client: ApiClient, account: Account) -> None:
    response = await client.get("/api/auth/me", headers=account.auth)

    assert response.status == 200
    body = response.body
    assert body["id"] == account.user_id
    assert body["email"] == account.email
    assert body["is_active"] is True
    assert set(body) == {"id", "email", "is_active", "created_at", "email_verified", "mfa"}
    assert body["mfa"] == {"enabled": False, "factors": [], "recovery_codes_left": 0}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."},
    ],
)
async def test_me_without_a_valid_token_is_401(client: ApiClient, headers: dict[str, str]) -> None:
    response = await client.get("/api/auth/me", headers=headers)

    assert response.status == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["content-type"] == "application/problem+json"
    assert response.body["code"] in {"not_authenticated", "invalid_token"}


async def test_logout_revokes_access_and_refresh_tokens(
    client: ApiClient, account: Account
) -> None:
    response = await client.post("/api/auth/logout", headers=account.auth)

    assert response.status == 204
    assert response.content == b""
    me = await client.get("/api/auth/me", headers=account.auth)
    assert me.status == 401
    assert me.body["code"] == "invalid_token"
    refresh = await client.post(
        "/api/auth/refresh-token", json={"refresh_token": account.refresh_token}
    )
    assert refresh.body["code"] == "invalid_refresh_token"
    assert (await client.post("/api/auth/logout", headers=account.auth)).status == 401


async def test_logout_ends_only_its_own_session(client: ApiClient, account: Account) -> None:
    second = (
        await client.post(
            "/api/auth/login", json={"email": account.email, "password": account.password}
        )
    ).body

    await client.post("/api/auth/logout", headers=account.auth)

    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert me.status == 200


async def test_logout_requires_a_token(client: ApiClient) -> None:
    response = await client.post("/api/auth/logout")

    assert response.status == 401
    assert response.body["code"] == "not_authenticated"


async def test_a_second_logout_is_invalid_token_and_a_bad_token_revokes_nothing(
    client: ApiClient, account: Account
) -> None:
    # logout checks the session and revokes it in one statement: a refused token ends nothing
    bad = await client.post("/api/auth/logout", headers={"Authorization": "Bearer not.a.jwt"})
    assert bad.body["code"] == "invalid_token"
    assert (await client.get("/api/auth/me", headers=account.auth)).status == 200

    assert (await client.post("/api/auth/logout", headers=account.auth)).status == 204
    again = await client.post("/api/auth/logout", headers=account.auth)
    assert again.status == 401
    assert again.body["code"] == "invalid_token"
