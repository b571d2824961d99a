"""Behind a transaction-pooling PgBouncer (RDS Proxy's stand-in), concurrent sessions just work.

The whole integration suite also runs through one (`make test-pgbouncer`); these tests first
show the stand-in really multiplexes, then push concurrent traffic through two connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from authapi.app import create_app
from devtools.tiers import require_tool
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.db import DedicatedDatabase
from tests.support.http import ApiClient, serving
from tests.support.pgbouncer import running_pgbouncer
from tests.support.settings import make_settings

pytestmark = pytest.mark.faults

SERVER_CONNECTIONS = 2


@pytest.fixture(scope="module")
def pooled_url(database: DedicatedDatabase) -> Iterator[str]:
    # skipped with the reason where it is missing; fails instead under AUTHAPI_REQUIRE_ALL_TIERS
    require_tool("pgbouncer", "make pgbouncer-install")
    with running_pgbouncer(database.url, pool_size=SERVER_CONNECTIONS) as url:
        yield url


async def test_six_clients_at_once_share_two_server_connections(pooled_url: str) -> None:
    dsn = make_url(pooled_url).set(drivername="postgresql").render_as_string(hide_password=False)
    clients = [await asyncpg.connect(dsn, statement_cache_size=0) for _ in range(6)]
    try:
        # in session pooling the third client would wait for a server connection forever
        pids = await asyncio.gather(
            *(client.fetchval("SELECT pg_backend_pid() FROM pg_sleep(0.05)") for client in clients)
        )
    finally:
        for client in clients:
            await client.close()

    assert len(pids) == 6
    assert len(set(pids)) <= SERVER_CONNECTIONS


@pytest.fixture
async def client(
    pooled_url: str, database: DedicatedDatabase, signing_key_pem: str
) -> AsyncIterator[ApiClient]:
    # ten app connections over two server connections: transactions hop between them
    app = create_app(make_settings(database.scratch(pooled_url), signing_key_pem, db_pool_size=10))
    async with serving(app) as client:
        yield client


async def _whole_session(client: ApiClient) -> list[int]:
    credentials = {"email": unique_email(), "password": STRONG_PASSWORD}
    registered = await client.post("/api/auth/register", json=credentials)
    tokens = registered.body
    refreshed = await client.post(
        "/api/auth/refresh-token", json={"refresh_token": tokens["refresh_token"]}
    )
    auth = {"Authorization": f"Bearer {refreshed.body['access_token']}"}
    login = await client.post("/api/auth/login", json=credentials)
    me = await client.get("/api/auth/me", headers=auth)
    logout = await client.post("/api/auth/logout", headers=auth)
    after = await client.get("/api/auth/me", headers=auth)
    return [r.status for r in (registered, refreshed, login, me, logout, after)]


async def test_twenty_concurrent_sessions_through_two_server_connections(
    client: ApiClient,
) -> None:
    outcomes = await client.gather(20, lambda: _whole_session(client))

    assert outcomes == [[201, 200, 200, 200, 204, 401]] * 20
