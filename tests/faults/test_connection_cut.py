"""A connection cut mid-transaction: every write is all or nothing, and a 503 says "retry".

The app talks to its own server through `PgProxy`, which cuts the connection at a chosen point
of the conversation. What the app sends, per request: the rate-limit hit as one upsert, then the
flow's own write as one statement (register is one data-modifying CTE writing user, session and
first refresh token; a refresh is one CTE that consumes the token and inserts its successor),
each autocommitted: no BEGIN, no COMMIT (tests/integration/test_request_budget.py). asyncpg
sends each statement twice, prepare then execute. A cut before the execute reaches the server
leaves nothing written, and the request is never retried once it sent a statement (a retry that
succeeded would answer 201 or 200 here, not 503).

The one case no server-side design removes is a statement that committed on the server whose
answer was lost (before, the answer to its COMMIT): the write happened, and the client got 503
`database_unavailable`, so for a write a 503 means "outcome unknown, retry". Retrying is always
safe, and ends where a client expects:
- register: 409 `email_taken` (the account exists): log in with the same password;
- login: a second session; the first, whose tokens nobody received, expires unused;
- refresh: within the reuse interval (AUTHAPI_REFRESH_REUSE_INTERVAL_SECONDS), 200 with the very
  successor that was issued but never delivered; after it (or with the interval at 0), 401
  `refresh_token_reused` and the session is revoked: presenting a long-spent token is what a
  thief does, so we fail closed and the user logs in again;
- logout: 401 `invalid_token` (the session is already revoked): the client is logged out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator

import pytest

from authapi.app import create_app
from tests.faults.pg_proxy import Cut, PgProxy
from tests.support.accounts import STRONG_PASSWORD, Account, register, unique_email
from tests.support.db import DedicatedDatabase
from tests.support.http import ApiClient, Reply, serving
from tests.support.problems import assert_database_unavailable
from tests.support.settings import make_settings

pytestmark = pytest.mark.faults

REGISTER = "/api/auth/register"


@pytest.fixture(scope="module")
def proxy(database: DedicatedDatabase) -> Iterator[PgProxy]:
    with PgProxy(database.socket_path) as proxy:
        yield proxy


@pytest.fixture
async def client(
    proxy: PgProxy, database: DedicatedDatabase, signing_key_pem: str
) -> AsyncIterator[ApiClient]:
    settings = make_settings(database.scratch(proxy.url(database.name)), signing_key_pem)
    async with serving(create_app(settings)) as client:
        yield client
    proxy.disarm()
    # whatever was cut where, no account is ever half written
    assert await _half_written_rows(database) == 0


async def _half_written_rows(database: DedicatedDatabase) -> int:
    count: int = await database.fetchval(
        "SELECT (SELECT count(*) FROM users u"
        "        WHERE NOT EXISTS (SELECT 1 FROM auth_sessions s WHERE s.user_id = u.id))"
        "     + (SELECT count(*) FROM auth_sessions s"
        "        WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id))"
    )
    return count


async def _cut_during(proxy: PgProxy, cut: Cut, request: Awaitable[Reply]) -> Reply:
    proxy.fired.clear()
    proxy.arm(cut)
    reply = await request
    assert proxy.fired == [cut], "the connection was never cut there: the test proves nothing"
    return reply


async def _register(client: ApiClient, email: str) -> Reply:
    return await client.post(REGISTER, json={"email": email, "password": STRONG_PASSWORD})


@pytest.fixture
async def account(client: ApiClient) -> Account:
    return await register(client)


def _before_commit(statement: bytes) -> dict[str, Cut]:
    """Cuts before the statement commits: it is never prepared, or prepared and never run.

    Autocommit removed the third case these tests had, "statement ran, COMMIT never sent":
    a statement that ran has committed."""
    return {
        "statement never reaches the server": Cut(at=statement),
        "statement sent, cut before it runs": Cut(at=statement, executing=True),
    }


def _commit_lost(statement: bytes) -> Cut:
    """The statement ran and committed; its answer never reaches the app."""
    return Cut(at=statement, executing=True, deliver=True)


RATE_LIMIT_HIT = b"INSERT INTO rate_limit_buckets"
RATE_LIMIT_CUTS = {
    f"rate-limit hit: {name}": cut for name, cut in _before_commit(RATE_LIMIT_HIT).items()
}
REGISTER_CUTS = {**RATE_LIMIT_CUTS, **_before_commit(b"INSERT INTO users")}


async def _rate_limit_hits(database: DedicatedDatabase) -> int:
    hits: int = await database.fetchval("SELECT coalesce(sum(hits), 0) FROM rate_limit_buckets")
    return hits


@pytest.mark.parametrize("cut", REGISTER_CUTS.values(), ids=REGISTER_CUTS)
async def test_register_cut_before_commit_writes_nothing(
    client: ApiClient, proxy: PgProxy, database: DedicatedDatabase, cut: Cut
) -> None:
    email = unique_email()

    reply = await _cut_during(proxy, cut, _register(client, email))

    assert_database_unavailable(reply)
    assert await database.fetchval("SELECT count(*) FROM users WHERE email = $1", email) == 0
    retry = await _register(client, email)
    assert retry.status == 201  # not 409: no user row was left behind


async def test_register_whose_rate_limit_answer_is_lost_counts_the_hit_and_nothing_else(
    client: ApiClient, proxy: PgProxy, database: DedicatedDatabase
) -> None:
    email = unique_email()
    hits = await _rate_limit_hits(database)

    reply = await _cut_during(proxy, _commit_lost(RATE_LIMIT_HIT), _register(client, email))

    assert_database_unavailable(reply)
    # the hit committed (README: a 503's rate-limit hit still counts); the register never ran
    assert await _rate_limit_hits(database) == hits + 1
    assert await database.fetchval("SELECT count(*) FROM users WHERE email = $1", email) == 0
    assert (await _register(client, email)).status == 201


async def test_register_whose_commit_answer_is_lost_exists_whole(
    client: ApiClient, proxy: PgProxy, database: DedicatedDatabase
) -> None:
    email = unique_email()

    reply = await _cut_during(proxy, _commit_lost(b"INSERT INTO users"), _register(client, email))

    assert_database_unavailable(reply)
    tokens = await database.fetchval(
        "SELECT count(*) FROM users u JOIN auth_sessions s ON s.user_id = u.id"
        " JOIN refresh_tokens t ON t.session_id = s.id WHERE u.email = $1",
        email,
    )
    assert tokens == 1  # user, session and first refresh token: all of it
    retry = await _register(client, email)
    assert retry.body["code"] == "email_taken"
    login = await client.post("/api/auth/login", json={"email": email, "password": STRONG_PASSWORD})
    assert login.status == 200


async def _sessions_of(database: DedicatedDatabase, account: Account) -> int:
    count: int = await database.fetchval(
        "SELECT count(*) FROM auth_sessions WHERE user_id = $1::uuid", account.user_id
    )
    return count


def _login(client: ApiClient, account: Account) -> Awaitable[Reply]:
    return client.post(
        "/api/auth/login", json={"email": account.email, "password": STRONG_PASSWORD}
    )


LOGIN_CUTS = _before_commit(b"INSERT INTO auth_sessions")


@pytest.mark.parametrize("cut", LOGIN_CUTS.values(), ids=LOGIN_CUTS)
async def test_login_cut_before_commit_opens_no_session(
    client: ApiClient,
    proxy: PgProxy,
    database: DedicatedDatabase,
    account: Account,
    cut: Cut,
) -> None:
    reply = await _cut_during(proxy, cut, _login(client, account))

    assert_database_unavailable(reply)
    assert await _sessions_of(database, account) == 1  # the one registration opened
    assert (await _login(client, account)).status == 200
    assert await _sessions_of(database, account) == 2


async def test_login_whose_commit_answer_is_lost_leaves_an_unused_session(
    client: ApiClient, proxy: PgProxy, database: DedicatedDatabase, account: Account
) -> None:
    cut = _commit_lost(b"INSERT INTO auth_sessions")

    reply = await _cut_during(proxy, cut, _login(client, account))

    assert_database_unavailable(reply)
    assert await _sessions_of(database, account) == 2
    assert (await _login(client, account)).status == 200


def _refresh(client: ApiClient, token: str) -> Awaitable[Reply]:
    return client.post("/api/auth/refresh-token", json={"refresh_token": token})


async def _tokens_of(database: DedicatedDatabase, account: Account) -> tuple[int, int]:
    """(refresh tokens in the account's session, how many of them are spent)"""
    row = await database.fetchval(
        "SELECT row(count(*), count(consumed_at)) FROM refresh_tokens WHERE session_id = $1",
        account.session_id,
    )
    return int(row[0]), int(row[1])


REFRESH_CUTS = {**RATE_LIMIT_CUTS, **_before_commit(b"UPDATE refresh_tokens")}


@pytest.mark.parametrize("cut", REFRESH_CUTS.values(), ids=REFRESH_CUTS)
async def test_refresh_cut_before_commit_spends_nothing(
    client: ApiClient,
    proxy: PgProxy,
    database: DedicatedDatabase,
    account: Account,
    cut: Cut,
) -> None:
    reply = await _cut_during(proxy, cut, _refresh(client, account.refresh_token))

    assert_database_unavailable(reply)
    assert await _tokens_of(database, account) == (1, 0)  # not spent, no successor
    retry = await _refresh(client, account.refresh_token)
    assert retry.status == 200  # the old token still works, once
    assert (await _refresh(client, retry.body["refresh_token"])).status == 200


async def test_refresh_whose_rate_limit_answer_is_lost_spends_nothing(
    client: ApiClient, proxy: PgProxy, database: DedicatedDatabase, account: Account
) -> None:
    hits = await _rate_limit_hits(database)

    reply = await _cut_during(
        proxy, _commit_lost(RATE_LIMIT_HIT), _refresh(client, account.refresh_token)
    )

    assert_database_unavailable(reply)
    assert await _rate_limit_hits(database) == hits + 1  # the hit counts, as documented
    assert await _tokens_of(database, account) == (1, 0)  # the refresh itself never ran
    assert (await _refresh(client, account.refresh_token)).status == 200


async def test_refresh_whose_commit_answer_is_lost_hands_out_its_successor_on_retry(
    client: ApiClient, proxy: PgProxy, database: DedicatedDatabase, account: Account
) -> None:
    cut = _commit_lost(b"UPDATE refresh_tokens")

    reply = await _cut_during(proxy, cut, _refresh(client, account.refresh_token))

    assert_database_unavailable(reply)
    assert await _tokens_of(database, account) == (2, 1)  # spent, and a successor nobody got
    retry = await _refresh(client, account.refresh_token)
    assert retry.status == 200  # that successor, handed out now: no second rotation
    assert await _tokens_of(database, account) == (2, 1)
    assert (await client.get("/api/auth/me", headers=account.auth)).status == 200
    assert (await _refresh(client, retry.body["refresh_token"])).status == 200


async def test_refresh_whose_commit_answer_is_lost_fails_closed_without_an_interval(
    proxy: PgProxy, database: DedicatedDatabase, signing_key_pem: str
) -> None:
    settings = make_settings(
        database.scratch(proxy.url(database.name)),
        signing_key_pem,
        refresh_reuse_interval_seconds=0,
    )
    async with serving(create_app(settings)) as client:
        account = await register(client, unique_email(), STRONG_PASSWORD)
        cut = _commit_lost(b"UPDATE refresh_tokens")

        reply = await _cut_during(proxy, cut, _refresh(client, account.refresh_token))

        assert_database_unavailable(reply)
        retry = await _refresh(client, account.refresh_token)
        assert retry.body["code"] == "refresh_token_reused"
        assert (await client.get("/api/auth/me", headers=account.auth)).status == 401
        assert (await _login(client, account)).status == 200
    proxy.disarm()


LOGOUT_CUTS = _before_commit(b"UPDATE auth_sessions")


@pytest.mark.parametrize("cut", LOGOUT_CUTS.values(), ids=LOGOUT_CUTS)
async def test_logout_cut_before_commit_keeps_the_session(
    client: ApiClient, proxy: PgProxy, account: Account, cut: Cut
) -> None:
    reply = await _cut_during(proxy, cut, client.post("/api/auth/logout", headers=account.auth))

    assert_database_unavailable(reply)
    assert (await client.get("/api/auth/me", headers=account.auth)).status == 200
    assert (await client.post("/api/auth/logout", headers=account.auth)).status == 204
    assert (await client.get("/api/auth/me", headers=account.auth)).status == 401


async def test_logout_whose_commit_answer_is_lost_has_logged_out(
    client: ApiClient, proxy: PgProxy, account: Account
) -> None:
    cut = _commit_lost(b"UPDATE auth_sessions")

    reply = await _cut_during(proxy, cut, client.post("/api/auth/logout", headers=account.auth))

    assert_database_unavailable(reply)
    assert (await client.get("/api/auth/me", headers=account.auth)).status == 401
    retry = await client.post("/api/auth/logout", headers=account.auth)
    assert retry.body["code"] == "invalid_token"
