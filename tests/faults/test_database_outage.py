"""PostgreSQL stops under live traffic: clients get 503s they can retry, and it heals by itself.

The server is this module's own (stopping the session's shared one would break other tests).
Every test runs against the ASGI app and against the Lambda handler with Lambda's pool of one.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import jwt
import pytest

from authapi.app import create_app
from authapi.handlers.lambda_app import build_lambda_app
from tests.aws_lambda.conftest import lambda_settings
from tests.faults.support import (
    Api,
    AsgiApi,
    DedicatedDatabase,
    LambdaApi,
    PrivateLoop,
    assert_database_unavailable,
    dedicated_database,
    register,
    wait_until,
)
from tests.support import STRONG_PASSWORD, make_settings, unique_email

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
    request: pytest.FixtureRequest, database: DedicatedDatabase, signing_key_pem: str
) -> Iterator[Api]:
    app: Api
    if request.param == "asgi":
        app = AsgiApi(create_app(make_settings(database.scratch(), signing_key_pem)))
    else:
        request.getfixturevalue("in_process_ssm_with_key")
        # pool_size=1, max_overflow=0: the one connection a Lambda environment keeps
        app = LambdaApi(build_lambda_app(lambda_settings(database.scratch())))
    yield app
    app.close()


def _log_lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _measured(request: pytest.FixtureRequest, record_property: RecordProperty, line: str) -> None:
    """A figure for the run's summary: printed, never asserted on."""
    record_property("terminal_summary", f"{request.node.name}: {line}")


def test_every_route_answers_503_while_down_and_the_next_request_after_succeeds(
    api: Api,
    database: DedicatedDatabase,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    record_property: RecordProperty,
) -> None:
    account = register(api)
    assert api.call("GET", "/health").status == 200
    capsys.readouterr()

    database.server.stop()

    credentials = {"email": account.email, "password": STRONG_PASSWORD}
    started = time.monotonic()
    while_down = {
        "register": api.call(
            "POST", "/api/auth/register", {"email": unique_email(), "password": STRONG_PASSWORD}
        ),
        "login": api.call("POST", "/api/auth/login", credentials),
        "refresh": api.call(
            "POST", "/api/auth/refresh-token", {"refresh_token": account.refresh_token}
        ),
        "me": api.call("GET", "/api/auth/me", token=account.access_token),
        "logout": api.call("POST", "/api/auth/logout", token=account.access_token),
    }
    answered_in = (time.monotonic() - started) / len(while_down)
    for route, reply in while_down.items():
        assert reply.code == "database_unavailable", route
        assert_database_unavailable(reply)
    health = api.call("GET", "/health")
    assert health.status == 503
    assert health.body["database"] == "unavailable"
    logged = _log_lines(capsys.readouterr().out)
    assert [line for line in logged if line["level"] == "ERROR"] == []
    assert not any("exception" in line or "stack_trace" in line for line in logged)
    assert sum(line["message"] == "database unavailable" for line in logged) == len(while_down)

    database.server.start()

    started = time.monotonic()
    first = api.call("GET", "/api/auth/me", token=account.access_token)
    recovered_in = time.monotonic() - started
    # the very first request after the restart succeeds: no retry loop, no new process
    assert first.status == 200
    _measured(
        request,
        record_property,
        f"503 in {answered_in * 1000:.0f} ms on average while down; "
        f"first request after the restart: {first.status} in {recovered_in * 1000:.0f} ms",
    )
    assert api.call("GET", "/health").body == {"status": "ok", "database": "ok"}
    # nothing the failed requests attempted happened: the refresh token was not spent
    refresh = {"refresh_token": account.refresh_token}
    assert api.call("POST", "/api/auth/refresh-token", refresh).status == 200
    assert api.call("POST", "/api/auth/login", credentials).status == 200


def test_a_restart_between_requests_costs_no_request(api: Api, database: DedicatedDatabase) -> None:
    account = register(api)  # leaves a pooled connection, which the restart kills

    database.server.stop()
    database.server.start()

    # pre-ping finds the dead connection and replaces it before the request uses it
    assert api.call("GET", "/api/auth/me", token=account.access_token).status == 200


async def _lock_waiters(dsn: str) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return count
    finally:
        await connection.close()


def test_a_request_in_flight_when_the_database_stops_gets_503(
    api: Api,
    database: DedicatedDatabase,
    request: pytest.FixtureRequest,
    record_property: RecordProperty,
) -> None:
    account = register(api)
    session_id = uuid.UUID(
        jwt.decode(account.access_token, options={"verify_signature": False})["sid"]
    )
    side = PrivateLoop()
    holder = side.run(asyncpg.connect(database.dsn))
    side.run(holder.execute("BEGIN"))
    # the logout's UPDATE of this row will wait for our lock: the request is caught mid-transaction
    side.run(holder.execute("SELECT 1 FROM auth_sessions WHERE id = $1 FOR UPDATE", session_id))
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            logout = pool.submit(api.call, "POST", "/api/auth/logout", token=account.access_token)
            wait_until(
                lambda: side.run(_lock_waiters(database.dsn)) == 1,
                what="the logout to wait for the row lock",
            )
            stopped = time.monotonic()
            database.server.stop()
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
    assert api.call("GET", "/api/auth/me", token=account.access_token).status == 200
    assert api.call("POST", "/api/auth/logout", token=account.access_token).status == 204
    assert api.call("GET", "/api/auth/me", token=account.access_token).status == 401
