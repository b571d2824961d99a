"""POST /api/auth/register."""

from __future__ import annotations

import pytest

from tests.support.accounts import STRONG_PASSWORD, register, unique_email
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient

pytestmark = pytest.mark.integration

PARALLEL = 20  # concurrent registrations in the race test


async def test_register_returns_user_and_tokens(client: ApiClient) -> None:
    email = unique_email()
    response = await client.post(
        "/api/auth/register", json={"email": email, "password": STRONG_PASSWORD}
    )

    assert response.status == 201
    assert response.headers["cache-control"] == "no-store"
    body = response.body
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 1800
    assert body["user"]["email"] == email
    assert body["user"]["is_active"] is True
    assert set(body["user"]) == {"id", "email", "is_active", "created_at", "email_verified"}
    assert body["refresh_token"].startswith("rt_")
    assert body["access_token"].count(".") == 2


async def test_email_is_normalized(client: ApiClient) -> None:
    local = unique_email().split("@")[0]
    response = await client.post(
        "/api/auth/register",
        json={"email": f"  {local.upper()}@Example.COM ", "password": STRONG_PASSWORD},
    )

    assert response.status == 201
    assert response.body["user"]["email"] == f"{local}@example.com"


async def test_same_email_in_other_case_is_taken(client: ApiClient) -> None:
    account = await register(client)

    response = await client.post(
        "/api/auth/register", json={"email": account.email.upper(), "password": STRONG_PASSWORD}
    )

    assert response.status == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.body["code"] == "email_taken"


async def test_unknown_fields_are_not_assigned(
    client: ApiClient, test_database: ScratchDatabase
) -> None:
    email = unique_email()
    response = await client.post(
        "/api/auth/register",
        json={"email": email, "password": STRONG_PASSWORD, "is_active": False, "id": "not-a-uuid"},
    )

    assert response.status == 201
    assert response.body["user"]["is_active"] is True
    stored = await test_database.fetchval("SELECT is_active FROM users WHERE email = $1", email)
    assert stored is True


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short1!", "at least 8"),
        ("password123", "too common"),
        ("iloveyou", "too common"),
        ("x" * 257, "at most 256"),
    ],
)
async def test_weak_passwords_are_refused(client: ApiClient, password: str, reason: str) -> None:
    response = await client.post(
        "/api/auth/register", json={"email": unique_email(), "password": password}
    )

    assert response.status == 422
    body = response.body
    assert body["code"] == "weak_password"
    assert reason in body["detail"]


async def test_password_equal_to_email_is_refused(client: ApiClient) -> None:
    email = unique_email()
    response = await client.post(
        "/api/auth/register", json={"email": email, "password": email.upper()}
    )

    assert response.status == 422
    assert response.body["code"] == "weak_password"


async def test_long_password_up_to_the_limit_is_accepted(client: ApiClient) -> None:
    account = await register(client, password="long passphrase " * 16)  # 256 characters

    login = await client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )
    assert login.status == 200


@pytest.mark.parametrize("email", ["not-an-email", "a@", "@example.com", "a b@example.com", ""])
async def test_invalid_email_is_a_validation_error(client: ApiClient, email: str) -> None:
    response = await client.post(
        "/api/auth/register", json={"email": email, "password": STRONG_PASSWORD}
    )

    assert response.status == 422
    body = response.body
    assert body["code"] == "validation_error"
    assert body["errors"][0]["loc"] == ["body", "email"]


async def test_concurrent_registrations_of_one_email_create_one_account(
    client: ApiClient, test_database: ScratchDatabase
) -> None:
    email = unique_email()

    responses = await client.gather(
        PARALLEL,
        lambda: client.post(
            "/api/auth/register", json={"email": email, "password": STRONG_PASSWORD}
        ),
    )

    statuses = sorted(response.status for response in responses)
    assert statuses == [201] + [409] * (PARALLEL - 1)
    assert await test_database.fetchval("SELECT count(*) FROM users WHERE email = $1", email) == 1
    # the winner got exactly one session; the losers left nothing half-written behind
    sessions = await test_database.fetchval(
        "SELECT count(*) FROM auth_sessions s JOIN users u ON u.id = s.user_id WHERE u.email = $1",
        email,
    )
    assert sessions == 1
