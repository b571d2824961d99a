"""POST /api/auth/login."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from tests.support.accounts import Account, unique_email
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, Reply

pytestmark = pytest.mark.integration


async def test_login_with_json(client: ApiClient, account: Account) -> None:
    response = await client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )

    assert response.status == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.body
    assert body["user"]["id"] == account.user_id
    assert body["token_type"] == "bearer"
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status == 200


async def test_login_with_oauth2_password_form(client: ApiClient, account: Account) -> None:
    response = await client.post(
        "/api/auth/login",
        data={
            "username": account.email.upper(),
            "password": account.password,
            "grant_type": "password",
        },
    )

    assert response.status == 200
    assert response.body["user"]["email"] == account.email


async def test_wrong_password_and_unknown_email_look_the_same(
    client: ApiClient, account: Account
) -> None:
    wrong_password = await client.post(
        "/api/auth/login", json={"email": account.email, "password": "not it at all"}
    )
    unknown_email = await client.post(
        "/api/auth/login", json={"email": unique_email(), "password": "not it at all"}
    )

    assert wrong_password.status == unknown_email.status == 401
    assert wrong_password.headers["www-authenticate"] == unknown_email.headers["www-authenticate"]

    def without_request_id(response: Reply) -> dict[str, object]:
        return {k: v for k, v in response.body.items() if k != "request_id"}

    assert without_request_id(wrong_password) == without_request_id(unknown_email)
    assert wrong_password.body["code"] == "invalid_credentials"


async def test_unknown_email_still_runs_a_hash_verify(
    client: ApiClient, hash_verifications: list[str]
) -> None:
    response = await client.post(
        "/api/auth/login", json={"email": unique_email(), "password": "whatever-it-is"}
    )

    assert response.status == 401
    assert len(hash_verifications) == 1
    assert hash_verifications[0].startswith("$argon2id$")


async def test_login_rehashes_when_parameters_changed(
    client: ApiClient, test_database: ScratchDatabase
) -> None:
    email = unique_email()
    weak_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(
        "an old password here"
    )
    await test_database.execute(
        "INSERT INTO users (id, email, password_hash) VALUES (gen_random_uuid(), $1, $2)",
        email,
        weak_hash,
    )

    response = await client.post(
        "/api/auth/login", json={"email": email, "password": "an old password here"}
    )

    assert response.status == 200
    stored = await test_database.fetchval("SELECT password_hash FROM users WHERE email = $1", email)
    assert stored != weak_hash
    assert "m=19456,t=2,p=1" in stored


async def test_disabled_account_cannot_log_in(
    client: ApiClient, account: Account, test_database: ScratchDatabase
) -> None:
    await test_database.execute(
        "UPDATE users SET is_active = false WHERE email = $1", account.email
    )

    response = await client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )

    # exactly as a wrong password: a distinct answer would confirm the password (CONVENTIONS)
    assert response.status == 401
    assert response.body["code"] == "invalid_credentials"
    # and its existing tokens stop working too
    assert (await client.get("/api/auth/me", headers=account.auth)).status == 401


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.com"},
        {"password": "x"},
        {"email": 5, "password": "x"},
        [],
        "text",
        None,
    ],
)
async def test_malformed_login_bodies_are_validation_errors(
    client: ApiClient, body: object
) -> None:
    response = await client.post("/api/auth/login", json=body)

    assert response.status == 422
    assert response.body["code"] == "validation_error"


async def test_login_body_that_is_not_json(client: ApiClient) -> None:
    response = await client.post(
        "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status == 422
    assert response.body["errors"][0]["msg"] == "JSON decode error"
