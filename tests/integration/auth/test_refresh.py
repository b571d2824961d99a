"""POST /api/auth/refresh-token: rotation, reuse detection, concurrency."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest

from tests.support import Account, ScratchDatabase

pytestmark = pytest.mark.integration

PARALLEL = 20  # concurrent requests in the race tests


async def _refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post("/api/auth/refresh-token", json={"refresh_token": token})


async def test_refresh_returns_a_new_pair(client: httpx.AsyncClient, account: Account) -> None:
    response = await _refresh(client, account.refresh_token)

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["refresh_token"] != account.refresh_token
    assert body["access_token"] != account.access_token
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json()["id"] == account.user_id


async def test_rotated_token_chain_keeps_working(
    client: httpx.AsyncClient, account: Account
) -> None:
    token = account.refresh_token
    for _ in range(3):
        response = await _refresh(client, token)
        assert response.status_code == 200
        token = response.json()["refresh_token"]


async def test_reuse_revokes_the_whole_session(client: httpx.AsyncClient, account: Account) -> None:
    newest = (await _refresh(client, account.refresh_token)).json()

    reuse = await _refresh(client, account.refresh_token)

    assert reuse.status_code == 401
    assert reuse.json()["code"] == "refresh_token_reused"
    # the thief's copy and the legitimate newest token are both dead now, and so are access tokens
    assert (await _refresh(client, newest["refresh_token"])).json()[
        "code"
    ] == "invalid_refresh_token"
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {newest['access_token']}"}
    )
    assert me.status_code == 401


async def test_reuse_revocation_is_committed(
    client: httpx.AsyncClient, account: Account, test_database: ScratchDatabase
) -> None:
    await _refresh(client, account.refresh_token)
    await _refresh(client, account.refresh_token)

    connection = await asyncpg.connect(test_database.dsn)
    try:
        reason = await connection.fetchval(
            "SELECT revoke_reason FROM auth_sessions WHERE user_id = $1::uuid", account.user_id
        )
    finally:
        await connection.close()
    assert reason == "refresh_token_reused"


async def test_other_sessions_survive_a_reuse(client: httpx.AsyncClient, account: Account) -> None:
    other = (
        await client.post(
            "/api/auth/login", json={"email": account.email, "password": account.password}
        )
    ).json()
    await _refresh(client, account.refresh_token)
    await _refresh(client, account.refresh_token)

    assert (await _refresh(client, other["refresh_token"])).status_code == 200


@pytest.mark.parametrize(
    "token", ["rt_unknown-token-value-xxxxxxxxxxxxxxxxxxxxxxxxx", "garbage", "x" * 256]
)
async def test_unknown_token_is_invalid(client: httpx.AsyncClient, token: str) -> None:
    response = await _refresh(client, token)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_refresh_token"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_expired_token_is_invalid(
    client: httpx.AsyncClient, account: Account, test_database: ScratchDatabase
) -> None:
    connection = await asyncpg.connect(test_database.dsn)
    try:
        await connection.execute(
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' "
            "WHERE session_id IN (SELECT id FROM auth_sessions WHERE user_id = $1::uuid)",
            account.user_id,
        )
    finally:
        await connection.close()

    response = await _refresh(client, account.refresh_token)

    assert response.json()["code"] == "invalid_refresh_token"


async def test_token_of_a_logged_out_session_is_invalid(
    client: httpx.AsyncClient, account: Account
) -> None:
    assert (await client.post("/api/auth/logout", headers=account.auth)).status_code == 204

    response = await _refresh(client, account.refresh_token)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_refresh_token"


async def test_concurrent_refreshes_of_one_token_succeed_once(
    client: httpx.AsyncClient, account: Account, test_database: ScratchDatabase
) -> None:
    responses = await asyncio.gather(
        *(_refresh(client, account.refresh_token) for _ in range(PARALLEL))
    )

    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 1
    assert statuses.count(401) == PARALLEL - 1
    # every loser saw a spent token: each of them revoked the session as a reuse
    assert {r.json()["code"] for r in responses if r.status_code == 401} == {"refresh_token_reused"}
    connection = await asyncpg.connect(test_database.dsn)
    try:
        # the one winner consumed the token and issued exactly one successor
        tokens = await connection.fetch(
            "SELECT consumed_at FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id "
            "WHERE s.user_id = $1::uuid",
            account.user_id,
        )
    finally:
        await connection.close()
    assert len(tokens) == 2
    assert sum(token["consumed_at"] is not None for token in tokens) == 1


async def test_refresh_token_in_query_string_is_not_accepted(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.post(
        "/api/auth/refresh-token", params={"refresh_token": account.refresh_token}
    )

    assert response.status_code == 422
    assert (await _refresh(client, account.refresh_token)).status_code == 200  # not consumed
