"""PostgreSQL stops under live traffic: clients get 503s they can retry, and it heals by itself.

The server is this module's own (stopping the session's shared one would break other tests).
Every test runs against the ASGI app and against the Lambda handler with Lambda's pool of one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest

from authapi.app import create_app
from tests.support.accounts import STRONG_PASSWORD, register, unique_email
from tests.support.aws import MakeLambda
from tests.support.db import DedicatedDatabase, dedicated_database
from tests.support.http import SyncApiClient
from tests.support.logs import log_records
from tests.support.loops import BackgroundLoop, wait_until
from tests.support.problems import assert_database_unavailable
from tests.support.settings import make_settings

pytestmark = pytest.mark.faults

RecordProperty = Callable[[str, object], None]


@pytest.fixture(scope="module")
def database() -> Iterator[DedicatedDatabase]:
    """This module's own server: its tests stop it."""
    with dedicated_database() as database:
        yield database


@pytest.fixture(autouse=True)
def _server_running_again(database: DedicatedDatabase) -> Iterator[None]:
    """A test that fails halfway through an outage must not leave the next one without a server."""
    yield
    if not database.running:
        database.server.start()


@pytest.fixture(params=["asgi", "lambda"])
def api(
    request: pytest.FixtureRequest,
    database: DedicatedDatabase,
    signing_key_pem: str,
    make_lambda: MakeLambda,
) -> Iterator[SyncApiClient]:
    if request.param == "asgi":
        api = SyncApiClient.asgi(create_app(make_settings(database.scratch(), signing_key_pem)))
    else:
        request.getfixturevalue("ssm_with_key")
        # the template's pool_size=1, max_overflow=0: the one connection a Lambda environment keeps
        api = SyncApiClient.aws_lambda(make_lambda(database.scratch()))
    yield api
    api.close()


def _measured(request: pytest.FixtureRequest, record_property: RecordProperty, line: str) -> None:
    """A figure for the run's summary: printed, never asserted on."""
    record_property("terminal_summary", f"{request.node.name}: {line}")


def test_every_route_answers_503_while_down_and_the_next_request_after_succeeds(
    api: SyncApiClient,
    database: DedicatedDatabase,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    record_property: RecordProperty,
) -> None:
    account = register(api)
    assert api.get("/health").status == 200
    capsys.readouterr()

    database.server.stop()

    credentials = {"email": account.email, "password": STRONG_PASSWORD}
    started = time.monotonic()
    while_down = {
        "register": api.post(
            "/api/auth/register", json={"email": unique_email(), "password": STRONG_PASSWORD}
        ),
        "login": api.post("/api/auth/login", json=credentials),
        "refresh": api.post(
            "/api/auth/refresh-token", json={"refresh_token": account.refresh_token}
        ),
        "me": api.get("/api/auth/me", token=account.access_token),
        "logout": api.post("/api/auth/logout", token=account.access_token),
    }
    answered_in = (time.monotonic() - started) / len(while_down)
    for route, reply in while_down.items():
        assert reply.code == "database_unavailable", route
        assert_database_unavailable(reply)
    health = api.get("/health")
    assert health.status == 503
    assert health.body["database"] == "unavailable"
    logged = log_records(capsys.readouterr().out)
    assert [line for line in logged if line["level"] == "ERROR"] == []
    assert not any("exception" in line or "stack_trace" in line for line in logged)
    assert sum(line["message"] == "database unavailable" for line in logged) == len(while_down)

    database.server.start()

    started = time.monotonic()
    first = api.get("/api/auth/me", token=account.access_token)
    recovered_in = time.monotonic() - started
    # the very first request after the restart succeeds: no retry loop, no new process
    assert first.status == 200
    _measured(
        request,
        record_property,
        f"503 in {answered_in * 1000:.0f} ms on average while down; "
        f"first request after the restart: {first.status} in {recovered_in * 1000:.0f} ms",
    )
    assert api.get("/health").body == {"status": "ok", "database": "ok"}
    # nothing the failed requests attempted happened: the refresh token was not spent
    refresh = {"refresh_token": account.refresh_token}
    assert api.post("/api/auth/refresh-token", json=refresh).status == 200
    assert api.post("/api/auth/login", json=credentials).status == 200


def test_a_restart_between_requests_costs_no_request(
    api: SyncApiClient, database: DedicatedDatabase
) -> None:
    account = register(api)  # leaves a pooled connection, which the restart kills

    database.server.stop()
    database.server.start()

    # the pool's checkout sees the closed socket and replaces the connection before the request
    # sends anything (no pre-ping: functions/authapi/db/engine.py)
    assert api.get("/api/auth/me", token=account.access_token).status == 200


LOCK_WAITERS = (
    "SELECT count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def test_a_request_in_flight_when_the_database_stops_gets_503(
    api: SyncApiClient,
    database: DedicatedDatabase,
    request: pytest.FixtureRequest,
    record_property: RecordProperty,
) -> None:
    account = register(api)
    session_id = account.session_id
    side = BackgroundLoop()
    holder = side.run(asyncpg.connect(database.dsn))
    side.run(holder.execute("BEGIN"))
    # the logout's UPDATE of this row will wait for our lock: the request is caught mid-transaction
    side.run(holder.execute("SELECT 1 FROM auth_sessions WHERE id = $1 FOR UPDATE", session_id))
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            logout = pool.submit(lambda: api.post("/api/auth/logout", token=account.access_token))
            wait_until(
                lambda: side.run(database.fetchval(LOCK_WAITERS)) == 1,
                what="the logout to wait for the row lock",
            )
            stopped = time.monotonic()
            # immediate: every backend quits at once. A fast stop ends them one by one, and the
            # holder's going first can hand its lock to the logout, which then commits
            database.server.stop(mode="immediate")
            reply = logout.result(timeout=30)
            answered_in = time.monotonic() - stopped
    finally:
        holder.terminate()
        side.close()

    assert_database_unavailable(reply)
    _measured(
        request,
        record_property,
        f"caught mid-transaction: 503 {answered_in * 1000:.0f} ms after the stop began",
    )
    database.server.start()
    # the logout never committed: the session is still live, and logging out again works
    assert api.get("/api/auth/me", token=account.access_token).status == 200
    assert api.post("/api/auth/logout", token=account.access_token).status == 204
    assert api.get("/api/auth/me", token=account.access_token).status == 401
