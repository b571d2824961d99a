"""POST /api/auth/refresh-token: rotation, reuse detection, concurrency."""

from __future__ import annotations

import pytest

from tests.support.accounts import Account
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, Reply

pytestmark = pytest.mark.integration

PARALLEL = 20  # concurrent requests in the race tests


async def _refresh(client: ApiClient, token: str) -> Reply:
    return await client.post("/api/auth/refresh-token", json={"refresh_token": token})


async def test_refresh_returns_a_new_pair(client: ApiClient, account: Account) -> None:
    response = await _refresh(client, account.refresh_token)

    assert response.status == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.body
    assert body["refresh_token"] != account.refresh_token
    assert body["access_token"] != account.access_token
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.body["id"] == account.user_id


async def test_rotated_token_chain_keeps_working(client: ApiClient, account: Account) -> None:
    token = account.refresh_token
    for _ in range(3):
        response = await _refresh(client, token)
        assert response.status == 200
        token = response.body["refresh_token"]


async def test_reuse_revokes_the_whole_session(client: ApiClient, account: Account) -> None:
    newest = (await _refresh(client, account.refresh_token)).body

    reuse = await _refresh(client, account.refresh_token)

    assert reuse.status == 401
    assert reuse.body["code"] == "refresh_token_reused"
    # the thief's copy and the legitimate newest token are both dead now, and so are access tokens
    assert (await _refresh(client, newest["refresh_token"])).body["code"] == "invalid_refresh_token"
    me = await client.get(
        "/api/auth/me", headers={"Authorization": f"Bearer {newest['access_token']}"}
    )
    assert me.status == 401


async def test_reuse_revocation_is_committed(
    client: ApiClient, account: Account, test_database: ScratchDatabase
) -> None:
    await _refresh(client, account.refresh_token)
    await _refresh(client, account.refresh_token)

    reason = await test_database.fetchval(
        "SELECT revoke_reason FROM auth_sessions WHERE user_id = $1::uuid", account.user_id
    )
    assert reason == "refresh_token_reused"


async def test_other_sessions_survive_a_reuse(client: ApiClient, account: Account) -> None:
    other = (
        await client.post(
            "/api/auth/login", json={"email": account.email, "password": account.password}
        )
    ).body
    await _refresh(client, account.refresh_token)
    await _refresh(client, account.refresh_token)

    assert (await _refresh(client, other["refresh_token"])).status == 200


@pytest.mark.parametrize(
    "token", ["rt_unknown-token-value-xxxxxxxxxxxxxxxxxxxxxxxxx", "garbage", "x" * 256]
)
async def test_unknown_token_is_invalid(client: ApiClient, token: str) -> None:
    response = await _refresh(client, token)

    assert response.status == 401
    assert response.body["code"] == "invalid_refresh_token"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_expired_token_is_invalid(
    client: ApiClient, account: Account, test_database: ScratchDatabase
) -> None:
    await test_database.execute(
        "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' "
        "WHERE session_id IN (SELECT id FROM auth_sessions WHERE user_id = $1::uuid)",
        account.user_id,
    )

    response = await _refresh(client, account.refresh_token)

    assert response.body["code"] == "invalid_refresh_token"


async def test_token_of_a_logged_out_session_is_invalid(
    client: ApiClient, account: Account
) -> None:
    assert (await client.post("/api/auth/logout", headers=account.auth)).status == 204

    response = await _refresh(client, account.refresh_token)

    assert response.status == 401
    assert response.body["code"] == "invalid_refresh_token"


async def test_concurrent_refreshes_of_one_token_succeed_once(
    client: ApiClient, account: Account, test_database: ScratchDatabase
) -> None:
    responses = await client.gather(PARALLEL, lambda: _refresh(client, account.refresh_token))

    statuses = [response.status for response in responses]
    assert statuses.count(200) == 1
    assert statuses.count(401) == PARALLEL - 1
    # every loser saw a spent token: each of them revoked the session as a reuse
    assert {r.body["code"] for r in responses if r.status == 401} == {"refresh_token_reused"}
    # the one winner consumed the token and issued exactly one successor
    tokens = await test_database.fetch(
        "SELECT consumed_at FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id "
        "WHERE s.user_id = $1::uuid",
        account.user_id,
    )
    assert len(tokens) == 2
    assert sum(token["consumed_at"] is not None for token in tokens) == 1


async def test_refresh_token_in_query_string_is_not_accepted(
    client: ApiClient, account: Account
) -> None:
    response = await client.post(
        "/api/auth/refresh-token", params={"refresh_token": account.refresh_token}
    )

    assert response.status == 422
    assert (await _refresh(client, account.refresh_token)).status == 200  # not consumed
