"""POST /api/auth/refresh-token: rotation, the reuse interval, reuse detection, concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from pydantic import SecretStr

from authapi.key_material import generate_data_key_entry
from tests.support.accounts import Account, register
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, ClientWith, Reply
from tests.support.settings import SESSION_DATA_KEYS

pytestmark = pytest.mark.integration

PARALLEL = 20  # concurrent requests in the race tests
INTERVAL = 10  # AUTHAPI_REFRESH_REUSE_INTERVAL_SECONDS's default


async def _refresh(client: ApiClient, token: str) -> Reply:
    return await client.post("/api/auth/refresh-token", json={"refresh_token": token})


async def _me(client: ApiClient, access_token: str) -> Reply:
    return await client.get("/api/auth/me", headers={"Authorization": f"Bearer {access_token}"})


async def _tokens(database: ScratchDatabase, account: Account) -> list[asyncpg.Record]:
    return await database.fetch(
        "SELECT token_hash, consumed_at FROM refresh_tokens t "
        "JOIN auth_sessions s ON s.id = t.session_id WHERE s.user_id = $1::uuid "
        "ORDER BY t.created_at",
        account.user_id,
    )


async def _revoke_reason(database: ScratchDatabase, account: Account) -> str | None:
    return await database.fetchval(
        "SELECT revoke_reason FROM auth_sessions WHERE id = $1", account.session_id
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def timed(client_with: ClientWith, clock: ManualClock) -> AsyncIterator[ApiClient]:
    """A client of an app on a clock the test moves, with the default reuse interval."""
    async with client_with(clock=clock) as client:
        yield client


@pytest.fixture
async def strict(client_with: ClientWith) -> AsyncIterator[ApiClient]:
    """A client of an app with no reuse interval: every spent token is reuse (the old contract)."""
    async with client_with(refresh_reuse_interval_seconds=0) as client:
        yield client


async def test_refresh_returns_a_new_pair(client: ApiClient, account: Account) -> None:
    response = await _refresh(client, account.refresh_token)

    assert response.status == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.body
    assert body["refresh_token"] != account.refresh_token
    assert body["access_token"] != account.access_token
    assert (await _me(client, body["access_token"])).body["id"] == account.user_id


async def test_rotated_token_chain_keeps_working(client: ApiClient, account: Account) -> None:
    token = account.refresh_token
    for _ in range(3):
        response = await _refresh(client, token)
        assert response.status == 200
        token = response.body["refresh_token"]


async def test_a_retry_after_a_lost_response_gets_the_same_token(
    timed: ApiClient, clock: ManualClock, test_database: ScratchDatabase
) -> None:
    account = await register(timed)
    lost = (await _refresh(timed, account.refresh_token)).body  # the client never saw this
    assert (await _me(timed, lost["access_token"])).status == 200
    clock.advance(INTERVAL)  # the interval's last moment

    retry = await _refresh(timed, account.refresh_token)

    assert retry.status == 200
    assert retry.body["refresh_token"] == lost["refresh_token"]
    assert retry.body["access_token"] != lost["access_token"]  # a fresh access token
    # handed out twice, rotated once: the original is spent, its one successor is current
    tokens = await _tokens(test_database, account)
    assert [token["consumed_at"] is not None for token in tokens] == [True, False]
    # and the chain goes on from there
    assert (await _refresh(timed, retry.body["refresh_token"])).status == 200


async def test_the_immediate_predecessor_repeats_at_every_generation(
    timed: ApiClient, clock: ManualClock
) -> None:
    account = await register(timed)
    first = (await _refresh(timed, account.refresh_token)).body["refresh_token"]
    clock.advance(INTERVAL + 60)  # long after the first exchange
    second = (await _refresh(timed, first)).body["refresh_token"]
    clock.advance(1)

    again = await _refresh(timed, first)

    assert again.status == 200
    assert again.body["refresh_token"] == second


async def test_the_predecessor_after_the_interval_is_reuse(
    timed: ApiClient, clock: ManualClock, test_database: ScratchDatabase
) -> None:
    account = await register(timed)
    newest = (await _refresh(timed, account.refresh_token)).body
    clock.advance(INTERVAL + 0.001)

    late = await _refresh(timed, account.refresh_token)

    assert late.status == 401
    assert late.body["code"] == "refresh_token_reused"
    assert await _revoke_reason(test_database, account) == "refresh_token_reused"
    # the thief's copy and the legitimate newest token are both dead now (and its access tokens:
    # the session is revoked)
    assert (await _refresh(timed, newest["refresh_token"])).body["code"] == "invalid_refresh_token"


async def test_a_third_generation_replay_is_reuse_even_within_the_interval(
    timed: ApiClient, test_database: ScratchDatabase
) -> None:
    account = await register(timed)
    first = (await _refresh(timed, account.refresh_token)).body
    second = (await _refresh(timed, first["refresh_token"])).body

    # the original is the predecessor of a token that is spent too: never accepted again
    replay = await _refresh(timed, account.refresh_token)

    assert replay.body["code"] == "refresh_token_reused"
    assert await _revoke_reason(test_database, account) == "refresh_token_reused"
    assert (await _refresh(timed, second["refresh_token"])).body["code"] == "invalid_refresh_token"
    assert (await _me(timed, second["access_token"])).status == 401


async def test_interval_zero_is_strict(strict: ApiClient, test_database: ScratchDatabase) -> None:
    account = await register(strict)
    newest = (await _refresh(strict, account.refresh_token)).body

    reuse = await _refresh(strict, account.refresh_token)

    assert reuse.status == 401
    assert reuse.body["code"] == "refresh_token_reused"
    assert await _revoke_reason(test_database, account) == "refresh_token_reused"
    assert (await _refresh(strict, newest["refresh_token"])).body["code"] == "invalid_refresh_token"


async def test_other_sessions_survive_a_reuse(strict: ApiClient) -> None:
    account = await register(strict)
    other = (await strict.post("/api/auth/login", json=account.credentials)).body
    await _refresh(strict, account.refresh_token)
    await _refresh(strict, account.refresh_token)

    assert (await _refresh(strict, other["refresh_token"])).status == 200


async def test_a_repeat_of_a_revoked_session_is_not_honoured(
    timed: ApiClient, test_database: ScratchDatabase
) -> None:
    account = await register(timed)
    rotated = (await _refresh(timed, account.refresh_token)).body
    bearer = {"Authorization": f"Bearer {rotated['access_token']}"}
    assert (await timed.post("/api/auth/logout", headers=bearer)).status == 204

    repeat = await _refresh(timed, account.refresh_token)

    assert repeat.status == 401
    assert await _revoke_reason(test_database, account) == "logout"


async def _refresh_across_a_data_key_rotation(
    client_with: ClientWith, rotated_keys: str
) -> Account:
    async with client_with() as before, client_with(data_keys=SecretStr(rotated_keys)) as after:
        account = await register(before)
        successor = (await _refresh(before, account.refresh_token)).body["refresh_token"]

        # the keys rotate between the exchange and its retry: the successor is still found
        retry = await _refresh(after, account.refresh_token)
        assert retry.status == 200
        assert retry.body["refresh_token"] == successor
        assert (await _refresh(after, successor)).status == 200
    return account


async def test_a_repeat_after_the_data_keys_rotated_gets_the_same_token(
    client_with: ClientWith,
) -> None:
    await _refresh_across_a_data_key_rotation(
        client_with, f"{generate_data_key_entry()},{SESSION_DATA_KEYS}"
    )


async def test_each_derived_token_records_its_data_key(
    client_with: ClientWith, test_database: ScratchDatabase
) -> None:
    rotated_keys = f"{generate_data_key_entry()},{SESSION_DATA_KEYS}"
    account = await _refresh_across_a_data_key_rotation(client_with, rotated_keys)

    new_key_id, old_key_id = (entry.split(":")[0] for entry in rotated_keys.split(","))
    key_ids = await test_database.fetch(
        "SELECT key_id FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id "
        "WHERE s.user_id = $1::uuid ORDER BY t.created_at",
        account.user_id,
    )
    # the first token was random; each derived one names the data key it came from
    assert [row["key_id"] for row in key_ids] == [None, old_key_id, new_key_id]


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


async def test_concurrent_refreshes_of_one_token_converge_on_one_successor(
    client_with: ClientWith, test_database: ScratchDatabase
) -> None:
    # a connection per request: the twenty really race for the token's row in PostgreSQL
    async with client_with(db_pool_size=PARALLEL, db_max_overflow=0) as client:
        account = await register(client)
        responses = await client.gather(PARALLEL, lambda: _refresh(client, account.refresh_token))

    assert [response.status for response in responses] == [200] * PARALLEL
    assert len({response.body["refresh_token"] for response in responses}) == 1
    assert len({response.body["access_token"] for response in responses}) == PARALLEL
    # one rotation: the token spent once, exactly one successor
    tokens = await _tokens(test_database, account)
    assert [token["consumed_at"] is not None for token in tokens] == [True, False]
    assert await _revoke_reason(test_database, account) is None


async def test_concurrent_refreshes_without_an_interval_succeed_once(
    strict: ApiClient, test_database: ScratchDatabase
) -> None:
    account = await register(strict)
    responses = await strict.gather(PARALLEL, lambda: _refresh(strict, account.refresh_token))

    statuses = [response.status for response in responses]
    assert statuses.count(200) == 1
    assert {r.body["code"] for r in responses if r.status == 401} == {"refresh_token_reused"}
    assert len(await _tokens(test_database, account)) == 2


@pytest.mark.parametrize(
    "locked",
    [
        "SELECT 1 FROM refresh_tokens WHERE session_id = $1 FOR UPDATE",
        # the refresh moves the session's last_used_at: that row's lock is waited for too
        "SELECT 1 FROM auth_sessions WHERE id = $1 FOR UPDATE",
    ],
    ids=["token_row", "session_row"],
)
async def test_a_refresh_waits_boundedly_then_asks_for_a_retry(
    client_with: ClientWith, test_database: ScratchDatabase, locked: str
) -> None:
    async with client_with(refresh_lock_timeout_ms=200) as client:
        account = await register(client)
        holder = await asyncpg.connect(test_database.dsn)
        try:
            transaction = holder.transaction()
            await transaction.start()
            await holder.execute(locked, account.session_id)
            waited = await asyncio.wait_for(_refresh(client, account.refresh_token), timeout=5)
            await transaction.rollback()
        finally:
            await holder.close()

        assert waited.status == 503
        assert waited.body["code"] == "refresh_in_progress"
        assert waited.headers["retry-after"] == "1"
        assert waited.headers["content-type"] == "application/problem+json"
        # nothing spent, nothing revoked: the retry the answer asks for succeeds
        assert [t["consumed_at"] for t in await _tokens(test_database, account)] == [None]
        assert (await _refresh(client, account.refresh_token)).status == 200
        assert await _revoke_reason(test_database, account) is None


async def test_refresh_token_in_query_string_is_not_accepted(
    client: ApiClient, account: Account
) -> None:
    response = await client.post(
        "/api/auth/refresh-token", params={"refresh_token": account.refresh_token}
    )

    assert response.status == 422
    assert (await _refresh(client, account.refresh_token)).status == 200  # not consumed
