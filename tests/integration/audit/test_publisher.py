"""Audit events on EventBridge through the event outbox (moto's EventBridge on a real port, a rule
on the bus to an SQS queue that the test reads): published once, with the event's type as
detail-type and its public JSON as detail, deleted from the outbox; refused entries stay and
count their attempts, up to the cap that abandons them (throttled ones never count); an
unreachable bus leaves every row as it was."""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest
from sqlalchemy.engine import make_url

from authapi.audit import publisher
from authapi.audit.eventbridge import EventBridgeBus
from authapi.audit.events import EventType
from authapi.audit.record import AuditEntry, admin, audit_statement
from authapi.config import Settings
from authapi.db.engine import Database
from authapi.db.session import unit_of_work
from authapi.maintenance import run_maintenance
from authapi.observability import metrics
from authapi.observability.request_context import current_client_ip, current_request_id
from devtools.local_stack import free_port
from tests.support.aws import REGION
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase, scratch_database, sibling_database

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
BUS = "authapi-test-audit"
PUBLIC_KEYS = {
    "id",
    "type",
    "occurred_at",
    "user_id",
    "actor",
    "session_id",
    "client_id",
    "ip",
    "user_agent",
    "request_id",
    "details",
}


def no_deadline() -> float:
    return math.inf


@dataclass
class MotoEventBridge:
    url: str
    queue_url: str = ""

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def reset(self) -> None:
        """A fresh bus whose one rule sends every authapi event to a fresh queue."""
        httpx.post(self.url + "/moto-api/reset", timeout=5).raise_for_status()
        sqs, events = self.client("sqs"), self.client("events")
        self.queue_url = sqs.create_queue(QueueName=f"audit-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        events.create_event_bus(Name=BUS)
        events.put_rule(
            Name="everything", EventBusName=BUS, EventPattern=json.dumps({"source": ["authapi"]})
        )
        events.put_targets(
            Rule="everything", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": queue_arn}]
        )

    def delivered(self) -> list[dict[str, Any]]:
        """Every event the rule delivered so far (received and deleted)."""
        sqs = self.client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="module")
def moto_events() -> Iterator[MotoEventBridge]:
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield MotoEventBridge(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def bridge(moto_events: MotoEventBridge, monkeypatch: pytest.MonkeyPatch) -> MotoEventBridge:
    monkeypatch.setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", moto_events.url)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    moto_events.reset()
    return moto_events


@pytest.fixture(scope="module")
def published_db() -> Iterator[ScratchDatabase]:
    """A database only this module writes: a run publishes the whole outbox."""
    with scratch_database() as database:
        yield database


def settings_as(database: ScratchDatabase, role: str, **values: Any) -> Settings:
    url = make_url(database.direct_url or database.url)
    return Settings(
        environment="test",
        database_url=url.set(username=f"{database.role_prefix}_{role}").render_as_string(
            hide_password=False
        ),
        db_role_prefix=database.role_prefix,
        **{"event_bus_name": BUS, **values},
    )


@pytest.fixture
async def maintenance(published_db: ScratchDatabase) -> AsyncIterator[Database]:
    """The maintenance run's database, as the maintenance role; the outbox emptied first."""
    await published_db.execute("TRUNCATE audit_events, event_outbox")
    database = Database(settings_as(published_db, "maintenance"))
    yield database
    await database.dispose()


@pytest.fixture
async def app_database(published_db: ScratchDatabase) -> AsyncIterator[Database]:
    """What the flows write with: the app role."""
    database = Database(settings_as(published_db, "app"))
    yield database
    await database.dispose()


async def record(database: Database, entry: AuditEntry) -> AuditEntry:
    async with unit_of_work(database) as db:
        await db.execute(audit_statement(entry))
    return entry


async def maintain(
    database: Database, published_db: ScratchDatabase, sink: Any, **values: Any
) -> Any:
    return await run_maintenance(
        database,
        settings_as(published_db, "maintenance", **values),
        clock=ManualClock(NOW),
        seconds_left=no_deadline,
        event_sink=sink,
    )


def bus(name: str = BUS) -> EventBridgeBus:
    return EventBridgeBus(name, region=REGION, timeout_seconds=5)


async def outbox(published_db: ScratchDatabase) -> dict[uuid.UUID, int]:
    rows = await published_db.fetch("SELECT event_id, attempts FROM event_outbox")
    return {row["event_id"]: row["attempts"] for row in rows}


async def test_events_are_published_once_with_their_type_and_public_detail(
    bridge: MotoEventBridge,
    maintenance: Database,
    app_database: Database,
    published_db: ScratchDatabase,
) -> None:
    user_id, session_id, admin_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    tokens = (current_request_id.set("req-publish-1"), current_client_ip.set("198.51.100.4"))
    try:
        login = await record(
            app_database,
            AuditEntry(
                EventType.LOGIN_SUCCEEDED,
                now=NOW - timedelta(minutes=2),
                user_id=user_id,
                session_id=session_id,
                client_id="default",
                details={"new_device": True},
            ),
        )
    finally:
        current_client_ip.reset(tokens[1])
        current_request_id.reset(tokens[0])
    disabled = await record(
        app_database,
        AuditEntry(
            EventType.ADMIN_USER_DISABLED,
            now=NOW - timedelta(minutes=1),
            user_id=user_id,
            actor=admin(admin_id),
        ),
    )
    sink = bus()

    report = await maintain(maintenance, published_db, sink)
    again = await maintain(maintenance, published_db, sink)
    sink.close()

    assert (report.events_published, report.events_failed) == (2, 0)
    assert not report.event_bus_unreachable
    assert again.events_published == 0
    assert await outbox(published_db) == {}
    delivered = {event["detail"]["id"]: event for event in bridge.delivered()}
    assert set(delivered) == {str(login.id), str(disabled.id)}  # once each, after two runs
    first = delivered[str(login.id)]
    assert (first["source"], first["detail-type"]) == ("authapi", "login.succeeded")
    assert first["detail"] == {
        "id": str(login.id),
        "type": "login.succeeded",
        "occurred_at": "2030-06-01T11:58:00Z",
        "user_id": str(user_id),
        "actor": {"kind": "user", "id": str(user_id)},
        "session_id": str(session_id),
        "client_id": "default",
        "ip": "198.51.100.4",
        "user_agent": None,
        "request_id": "req-publish-1",
        "details": {"new_device": True},
    }
    second = delivered[str(disabled.id)]
    assert second["detail-type"] == "admin.user_disabled"
    assert set(second["detail"]) == PUBLIC_KEYS
    assert second["detail"]["actor"] == {"kind": "admin", "id": str(admin_id)}
    # the audit trail itself is untouched: publishing is not retention
    assert await published_db.fetchval("SELECT count(*) FROM audit_events") == 2


async def test_the_source_is_a_setting(
    bridge: MotoEventBridge,
    maintenance: Database,
    app_database: Database,
    published_db: ScratchDatabase,
) -> None:
    await record(app_database, AuditEntry(EventType.LOGOUT, now=NOW, user_id=uuid.uuid4()))
    events = bridge.client("events")
    events.put_rule(
        Name="other-source",
        EventBusName=BUS,
        EventPattern=json.dumps({"source": ["com.example.auth"]}),
    )
    arn = bridge.client("sqs").get_queue_attributes(
        QueueUrl=bridge.queue_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    events.put_targets(Rule="other-source", EventBusName=BUS, Targets=[{"Id": "queue", "Arn": arn}])

    report = await maintain(maintenance, published_db, bus(), event_source="com.example.auth")

    assert report.events_published == 1
    (event,) = bridge.delivered()
    assert event["source"] == "com.example.auth"


async def test_an_entry_the_bus_refuses_stays_and_its_attempts_grow(
    bridge: MotoEventBridge,
    maintenance: Database,
    app_database: Database,
    published_db: ScratchDatabase,
) -> None:
    good = await record(app_database, AuditEntry(EventType.LOGOUT, now=NOW, user_id=uuid.uuid4()))
    # an event EventBridge refuses on its own (an empty detail-type): a partial failure
    refused = uuid.uuid4()
    await published_db.execute(
        "INSERT INTO audit_events (id, occurred_at, type, actor_kind)"
        " VALUES ($1, $2, '', 'service')",
        refused,
        NOW - timedelta(minutes=5),
    )
    await published_db.execute(
        "INSERT INTO event_outbox (event_id, created_at) VALUES ($1, $2)",
        refused,
        NOW - timedelta(minutes=5),
    )

    first = await maintain(maintenance, published_db, bus())
    second = await maintain(maintenance, published_db, bus())

    assert (first.events_published, first.events_failed) == (1, 1)
    assert first.event_errors == {"InvalidArgument"}  # EventBridge's own per-entry code
    assert (second.events_published, second.events_failed) == (0, 1)
    assert await outbox(published_db) == {refused: 2}
    assert [event["detail"]["id"] for event in bridge.delivered()] == [str(good.id)]


async def test_an_unreachable_bus_leaves_every_row_as_it_was(
    bridge: MotoEventBridge,
    maintenance: Database,
    app_database: Database,
    published_db: ScratchDatabase,
) -> None:
    entries = [
        await record(app_database, AuditEntry(EventType.LOGOUT, now=NOW, user_id=uuid.uuid4()))
        for _ in range(3)
    ]

    # a bus that does not exist: EventBridge refuses the whole call
    report = await maintain(maintenance, published_db, bus("no-such-bus"))

    assert report.event_bus_unreachable
    assert report.event_errors == {"ResourceNotFoundException"}
    assert (report.events_published, report.events_failed) == (0, 0)
    assert await outbox(published_db) == {entry.id: 0 for entry in entries}
    assert report.finished  # the purges still ran
    assert report.deleted["event_outbox"] == 0  # publishing is on: the rows wait for the bus


@dataclass
class CountingSink:
    """The real bus, with the size of each call it was asked to make."""

    inner: EventBridgeBus
    calls: list[int]

    def put_events(self, entries: Sequence[Mapping[str, Any]]) -> list[str | None]:
        self.calls.append(len(entries))
        return self.inner.put_events(entries)

    def close(self) -> None:
        self.inner.close()


async def test_a_backlog_goes_ten_entries_per_call_in_batches(
    bridge: MotoEventBridge, maintenance: Database, published_db: ScratchDatabase
) -> None:
    await published_db.execute(
        """
        WITH events AS (
            INSERT INTO audit_events (id, occurred_at, type, actor_kind)
            SELECT gen_random_uuid(), $1::timestamptz + n * interval '1 second', 'logout', 'user'
            FROM generate_series(1, 205) AS n
            RETURNING id, occurred_at
        )
        INSERT INTO event_outbox (event_id, created_at) SELECT id, occurred_at FROM events
        """,
        NOW - timedelta(hours=1),
    )
    sink = CountingSink(bus(), [])

    report = await maintain(maintenance, published_db, sink)

    assert report.events_published == 205
    assert await outbox(published_db) == {}
    assert max(sink.calls) == 10
    assert sum(sink.calls) == 205
    assert len(bridge.delivered()) == 205


@dataclass
class SlowSink(CountingSink):
    """A bus that answers each call slowly."""

    def put_events(self, entries: Sequence[Mapping[str, Any]]) -> list[str | None]:
        time.sleep(0.05)
        return super().put_events(entries)


async def test_a_slow_bus_ends_a_batch_early_and_the_rest_goes_in_the_next_one(
    bridge: MotoEventBridge,
    maintenance: Database,
    published_db: ScratchDatabase,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a batch holds its rows in a transaction the role ends after 10 s idle: past its budget,
    # it takes no further call, commits what the bus took, and the next batch goes on
    monkeypatch.setattr(publisher, "BATCH_BUDGET_SECONDS", 0.01)
    await published_db.execute(
        """
        WITH events AS (
            INSERT INTO audit_events (id, occurred_at, type, actor_kind)
            SELECT gen_random_uuid(), $1::timestamptz + n * interval '1 second', 'logout', 'user'
            FROM generate_series(1, 30) AS n
            RETURNING id, occurred_at
        )
        INSERT INTO event_outbox (event_id, created_at) SELECT id, occurred_at FROM events
        """,
        NOW - timedelta(hours=1),
    )
    sink = SlowSink(bus(), [])

    report = await maintain(maintenance, published_db, sink)

    assert report.events_published == 30
    assert sink.calls == [10, 10, 10]  # one call per batch: each stopped after its first
    assert await outbox(published_db) == {}


async def test_with_publishing_off_events_wait_until_the_retention_takes_them(
    bridge: MotoEventBridge,
    maintenance: Database,
    app_database: Database,
    published_db: ScratchDatabase,
) -> None:
    recent = await record(
        app_database, AuditEntry(EventType.LOGOUT, now=NOW - timedelta(1), user_id=uuid.uuid4())
    )
    await record(
        app_database, AuditEntry(EventType.LOGOUT, now=NOW - timedelta(91), user_id=uuid.uuid4())
    )

    off = await maintain(maintenance, published_db, None, event_bus_name="")

    assert off.deleted["event_outbox"] == off.deleted["audit_events"] == 1
    assert await outbox(published_db) == {recent.id: 0}
    # a bus configured later still gets what the retention kept
    on = await maintain(maintenance, published_db, bus())
    assert on.events_published == 1
    assert [event["detail"]["id"] for event in bridge.delivered()] == [str(recent.id)]


async def test_a_schema_before_the_audit_trail_publishes_nothing_and_does_not_fail(
    bridge: MotoEventBridge, published_db: ScratchDatabase
) -> None:
    async with sibling_database(published_db, revision="0011") as older:
        database = Database(settings_as(older, "maintenance"))
        try:
            report = await run_maintenance(
                database,
                settings_as(older, "maintenance"),
                clock=ManualClock(NOW),
                seconds_left=no_deadline,
                event_sink=bus(),
            )
        finally:
            await database.dispose()

    assert report.finished
    assert (report.events_published, report.events_failed) == (0, 0)
    assert not report.event_bus_unreachable
    assert report.deleted["audit_events"] == report.deleted["event_outbox"] == 0


@pytest.fixture
def counted_metrics() -> Iterator[list[str]]:
    names: list[str] = []
    metrics.install_sink(names.append)
    yield names
    metrics.install_sink(None)


async def refused_event(published_db: ScratchDatabase, *, attempts: int) -> uuid.UUID:
    """An event EventBridge refuses on its own (an empty detail-type: InvalidArgument), its
    outbox row refused `attempts` times before."""
    event_id = uuid.uuid4()
    await published_db.execute(
        "INSERT INTO audit_events (id, occurred_at, type, actor_kind, details)"
        " VALUES ($1, $2, '', 'service', '{\"secret_looking\": \"never-logged\"}')",
        event_id,
        NOW - timedelta(minutes=5),
    )
    await published_db.execute(
        "INSERT INTO event_outbox (event_id, created_at, attempts) VALUES ($1, $2, $3)",
        event_id,
        NOW - timedelta(minutes=5),
        attempts,
    )
    return event_id


async def test_an_entry_refused_the_last_allowed_time_is_abandoned_and_its_audit_row_kept(
    bridge: MotoEventBridge,
    maintenance: Database,
    published_db: ScratchDatabase,
    caplog: pytest.LogCaptureFixture,
    counted_metrics: list[str],
) -> None:
    cap = publisher.MAX_REFUSED_ATTEMPTS
    last_chance = await refused_event(published_db, attempts=cap - 1)
    younger = await refused_event(published_db, attempts=cap - 2)

    with caplog.at_level(logging.ERROR, logger="authapi.audit.publisher"):
        report = await maintain(maintenance, published_db, bus())

    assert (report.events_failed, report.events_abandoned) == (2, 1)
    # the one refused for the cap-th time is out of the outbox; the other counts one more
    assert await outbox(published_db) == {younger: cap - 1}
    assert counted_metrics.count("AuditEventsAbandoned") == 1
    (line,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert line.name == "authapi.audit.publisher"
    fields = {key: getattr(line, key, None) for key in ("event_id", "error_code", "attempts")}
    assert fields == {
        "event_id": str(last_chance),
        "error_code": "InvalidArgument",
        "attempts": cap,
    }
    assert "never-logged" not in caplog.text  # the event's details are the audit row's alone
    # the trail keeps both events: abandoning stops the publishing, not the record
    kept = await published_db.fetchval(
        "SELECT count(*) FROM audit_events WHERE id = ANY($1::uuid[])", [last_chance, younger]
    )
    assert kept == 2

    # the next run abandons the other one, now at the cap too
    again = await maintain(maintenance, published_db, bus())
    assert again.events_abandoned == 1
    assert await outbox(published_db) == {}
    assert bridge.delivered() == []


@dataclass
class ThrottlingSink(CountingSink):
    """The real bus, except that it answers ThrottlingException for the entries of `throttled`
    event ids (EventBridge's per-entry throttle), or InternalFailure for `failing` ones."""

    throttled: frozenset[str] = frozenset()
    failing: frozenset[str] = frozenset()

    def put_events(self, entries: Sequence[Mapping[str, Any]]) -> list[str | None]:
        codes: list[str | None] = []
        for entry in entries:
            event_id = json.loads(entry["Detail"])["id"]
            if event_id in self.throttled:
                codes.append("ThrottlingException")
            elif event_id in self.failing:
                codes.append("InternalFailure")
            else:
                codes.extend(super().put_events([entry]))
        return codes


async def test_a_throttled_entry_is_retried_forever_without_counting_an_attempt(
    bridge: MotoEventBridge,
    maintenance: Database,
    app_database: Database,
    published_db: ScratchDatabase,
) -> None:
    cap = publisher.MAX_REFUSED_ATTEMPTS
    throttled = await record(
        app_database, AuditEntry(EventType.LOGOUT, now=NOW, user_id=uuid.uuid4())
    )
    failing = await record(
        app_database, AuditEntry(EventType.LOGOUT, now=NOW, user_id=uuid.uuid4())
    )
    # even past the cap (refused for good before, throttled now): a retryable code never abandons
    await published_db.execute(
        "UPDATE event_outbox SET attempts = $1 WHERE event_id = $2", cap + 3, throttled.id
    )
    sink = ThrottlingSink(
        bus(), [], throttled=frozenset({str(throttled.id)}), failing=frozenset({str(failing.id)})
    )

    reports = [await maintain(maintenance, published_db, sink) for _ in range(cap + 1)]

    assert all(report.events_failed == 2 for report in reports)
    assert all(report.events_abandoned == 0 for report in reports)
    assert reports[0].event_errors == {"ThrottlingException", "InternalFailure"}
    assert await outbox(published_db) == {throttled.id: cap + 3, failing.id: 0}
    # once EventBridge takes them again, they are published
    recovered = await maintain(maintenance, published_db, bus())
    assert recovered.events_published == 2
    assert await outbox(published_db) == {}
