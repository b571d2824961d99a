"""The maintenance function as EventBridge Scheduler invokes it: the template's scheduled event,
a Lambda context, the wall clock, on a database of its own, as the maintenance role."""

from __future__ import annotations

import asyncio
import importlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from authapi.config import get_settings
from devtools.lambda_events import FakeLambdaContext
from tests.infra.cfn import load_template
from tests.support.db import ScratchDatabase, scratch_database
from tests.support.logs import log_records, metric_names

pytestmark = pytest.mark.aws_lambda

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def scheduled_event() -> dict[str, Any]:
    """What the template's ScheduleV2 event sends the function."""
    events = load_template("template.yaml")["Resources"]["MaintenanceFunction"]["Properties"]
    (schedule,) = events["Events"].values()
    assert schedule["Type"] == "ScheduleV2"
    event: dict[str, Any] = json.loads(schedule["Properties"]["Input"])
    return event


@pytest.fixture(scope="module")
def own_database() -> Iterator[ScratchDatabase]:
    with scratch_database() as database:
        yield database


@pytest.fixture
def handler_module(
    own_database: ScratchDatabase, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ModuleType]:
    """The handler module as a new execution environment imports it, connected as the
    maintenance role (no event bus configured: publishing is off)."""
    url = make_url(own_database.direct_url or own_database.url)
    role = f"{own_database.role_prefix}_maintenance"
    as_maintenance = url.set(drivername="postgresql", username=role)
    monkeypatch.setenv("AUTHAPI_ENVIRONMENT", "test")
    monkeypatch.setenv("AUTHAPI_DATABASE_URL", as_maintenance.render_as_string(hide_password=False))
    monkeypatch.delenv("AUTHAPI_EVENT_BUS_NAME", raising=False)
    monkeypatch.setenv("AUTHAPI_DB_ROLE_PREFIX", own_database.role_prefix)
    get_settings.cache_clear()
    import authapi.handlers.maintenance as module

    yield importlib.reload(module)
    get_settings.cache_clear()


async def add_dead_session(database: ScratchDatabase) -> uuid.UUID:
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    await database.execute(
        "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'unused')",
        user_id,
        f"{user_id.hex}@example.com",
    )
    await database.execute(
        "INSERT INTO auth_sessions (id, user_id, created_at, expires_at) VALUES ($1, $2, $3, $3)",
        session_id,
        user_id,
        LONG_AGO,
    )
    await database.execute(
        "INSERT INTO refresh_tokens (id, session_id, token_hash, expires_at)"
        " VALUES ($1, $2, $3, $4)",
        uuid.uuid4(),
        session_id,
        uuid.uuid4().bytes * 2,
        LONG_AGO,
    )
    return session_id


async def test_a_scheduled_invocation_deletes_what_is_due_and_says_so(
    handler_module: ModuleType, own_database: ScratchDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    session_id = await add_dead_session(own_database)
    await own_database.execute(
        "INSERT INTO rate_limit_buckets (key, window_start, hits) VALUES ('old', $1, 3)", LONG_AGO
    )
    context = FakeLambdaContext(function_name="authapi-test-maintenance", timeout_seconds=120)

    # on a thread with no event loop, as the Lambda runtime calls it
    result = await asyncio.to_thread(handler_module.handler, scheduled_event(), context)

    assert result["finished"] is True
    assert result["deleted"]["auth_sessions"] >= 1
    assert result["deleted"]["refresh_tokens"] >= 1
    assert result["deleted"]["rate_limit_buckets"] >= 1
    sessions = await own_database.fetchval(
        "SELECT count(*) FROM auth_sessions WHERE id = $1", session_id
    )
    assert sessions == 0
    assert await own_database.fetchval("SELECT count(*) FROM rate_limit_buckets") == 0
    (line,) = [
        line
        for line in log_records(capsys.readouterr().out)
        if line.get("message") == "maintenance run"
    ]
    assert line["deleted"] == " ".join(f"{t}={n}" for t, n in result["deleted"].items())
    assert line["function_name"] == "authapi-test-maintenance"


async def test_an_invocation_with_no_time_left_deletes_nothing_and_warns(
    handler_module: ModuleType, own_database: ScratchDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    session_id = await add_dead_session(own_database)
    # a context whose time is nearly up: not even one batch fits
    context = FakeLambdaContext(function_name="authapi-test-maintenance", timeout_seconds=1)

    # on a thread with no event loop, as the Lambda runtime calls it
    result = await asyncio.to_thread(handler_module.handler, scheduled_event(), context)

    assert result == {
        "deleted": dict.fromkeys(result["deleted"], 0),
        "finished": False,
        # no mail queue configured here: nothing re-queued, nothing refused
        "mail_requeued": 0,
        "mail_requeue_failed": False,
        # and no event bus: nothing published
        "events_published": 0,
        "events_refused": 0,
        "events_abandoned": 0,
        "event_bus_unreachable": False,
    }
    remaining = await own_database.fetchval(
        "SELECT count(*) FROM auth_sessions WHERE id = $1", session_id
    )
    assert remaining == 1
    assert any(
        line.get("level") == "WARNING" and "out of time" in str(line.get("message"))
        for line in log_records(capsys.readouterr().out)
    )


@pytest.fixture
def moto_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's EventBridge on a port, with a bus; the function's environment points at it."""
    import boto3
    from moto.server import ThreadedMotoServer

    from devtools.local_stack import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    credentials = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    for name, value in {
        **credentials,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_EVENTBRIDGE": endpoint,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    boto3.client(
        "events",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_event_bus(Name="authapi-test-audit")
    try:
        yield "authapi-test-audit"
    finally:
        server.stop()


@pytest.mark.head_schema
async def test_with_a_bus_configured_the_run_publishes_and_counts_the_events(
    moto_bus: str,
    own_database: ScratchDatabase,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = make_url(own_database.direct_url or own_database.url)
    role = f"{own_database.role_prefix}_maintenance"
    monkeypatch.setenv("AUTHAPI_ENVIRONMENT", "test")
    monkeypatch.setenv(
        "AUTHAPI_DATABASE_URL",
        url.set(drivername="postgresql", username=role).render_as_string(hide_password=False),
    )
    monkeypatch.setenv("AUTHAPI_DB_ROLE_PREFIX", own_database.role_prefix)
    monkeypatch.setenv("AUTHAPI_EVENT_BUS_NAME", moto_bus)
    get_settings.cache_clear()
    import authapi.handlers.maintenance as module

    handler_module = importlib.reload(module)
    event_id = uuid.uuid4()
    await own_database.execute(
        "WITH event AS (INSERT INTO audit_events (id, occurred_at, type, actor_kind)"
        " VALUES ($1, now(), 'logout', 'user') RETURNING id)"
        " INSERT INTO event_outbox (event_id, created_at) SELECT id, now() FROM event",
        event_id,
    )
    context = FakeLambdaContext(function_name="authapi-test-maintenance", timeout_seconds=120)
    try:
        result = await asyncio.to_thread(handler_module.handler, scheduled_event(), context)
    finally:
        get_settings.cache_clear()

    assert result["events_published"] >= 1
    assert (result["events_refused"], result["event_bus_unreachable"]) == (0, False)
    waiting = await own_database.fetchval(
        "SELECT count(*) FROM event_outbox WHERE event_id = $1", event_id
    )
    assert waiting == 0
    assert "AuditEventsPublished" in metric_names(capsys.readouterr().out)
