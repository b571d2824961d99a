"""POST /api/auth/login."""

from __future__ import annotations

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher

from tests.support import Account, ScratchDatabase, unique_email

pytestmark = pytest.mark.integration


async def test_login_with_json(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["user"]["id"] == account.user_id
    assert body["token_type"] == "bearer"
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200


async def test_login_with_oauth2_password_form(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.post(
        "/api/auth/login",
        data={
            "username": account.email.upper(),
            "password": account.password,
            "grant_type": "password",
        },
    )

    assert response.status_code == 200
    assert response.json()["user"]["email"] == account.email


async def test_wrong_password_and_unknown_email_look_the_same(
    client: httpx.AsyncClient, account: Account
) -> None:
    wrong_password = await client.post(
        "/api/auth/login", json={"email": account.email, "password": "not it at all"}
    )
    unknown_email = await client.post(
        "/api/auth/login", json={"email": unique_email(), "password": "not it at all"}
    )

    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.headers["www-authenticate"] == unknown_email.headers["www-authenticate"]

    def without_request_id(response: httpx.Response) -> dict[str, object]:
        return {k: v for k, v in response.json().items() if k != "request_id"}

    assert without_request_id(wrong_password) == without_request_id(unknown_email)
    assert wrong_password.json()["code"] == "invalid_credentials"


async def test_unknown_email_still_runs_a_hash_verify(
    client: httpx.AsyncClient, hash_verifications: list[str]
) -> None:
    response = await client.post(
        "/api/auth/login", json={"email": unique_email(), "password": "whatever-it-is"}
    )

    assert response.status_code == 401
    assert len(hash_verifications) == 1
    assert hash_verifications[0].startswith("$argon2id$")


async def test_login_rehashes_when_parameters_changed(
    client: httpx.AsyncClient, test_database: ScratchDatabase
) -> None:
    email = unique_email()
    weak_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(
        "an old password here"
    )
    connection = await asyncpg.connect(test_database.dsn)
    try:
        await connection.execute(
            "INSERT INTO users (id, email, password_hash) VALUES (gen_random_uuid(), $1, $2)",
            email,
            weak_hash,
        )

        response = await client.post(
            "/api/auth/login", json={"email": email, "password": "an old password here"}
        )

        assert response.status_code == 200
        stored = await connection.fetchval(
            "SELECT password_hash FROM users WHERE email = $1", email
        )
        assert stored != weak_hash
        assert "m=19456,t=2,p=1" in stored
    finally:
        await connection.close()


async def test_disabled_account_cannot_log_in(
    client: httpx.AsyncClient, account: Account, test_database: ScratchDatabase
) -> None:
    connection = await asyncpg.connect(test_database.dsn)
    try:
        await connection.execute(
            "UPDATE users SET is_active = false WHERE email = $1", account.email
        )
    finally:
        await connection.close()

    response = await client.post(
        "/api/auth/login", json={"email": account.email, "password": account.password}
    )

    assert response.status_code == 403
    assert response.json()["code"] == "account_disabled"
    # and its existing tokens stop working too
    assert (await client.get("/api/auth/me", headers=account.auth)).status_code == 401


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
    client: httpx.AsyncClient, body: object
) -> None:
    response = await client.post("/api/auth/login", json=body)

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


async def test_login_body_that_is_not_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/auth/login", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["msg"] == "JSON decode error"
