"""The audit trail's table: rows written with the request's facts, and append-only for the app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from authapi.audit.events import EventType
from authapi.audit.record import SERVICE, AuditEntry, audit_statement
from authapi.config import Settings
from authapi.db.engine import Database
from authapi.db.session import unit_of_work
from authapi.observability.request_context import (
    current_client_ip,
    current_headers,
    current_request_id,
)
from tests.support.db import ScratchDatabase, as_role

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    database = Database(settings)
    yield database
    await database.dispose()


async def test_a_row_names_the_request_and_its_event_waits_in_the_outbox(
    database: Database, test_database: ScratchDatabase
) -> None:
    user_id = uuid.uuid4()
    entry = AuditEntry(
        EventType.SESSION_REVOKED,
        now=datetime(2026, 12, 4, 12, 0, tzinfo=UTC),
        user_id=user_id,
        details={"reason": "reuse"},
    )
    tokens = (
        current_request_id.set("req-audit-1"),
        current_client_ip.set("203.0.113.7"),
        current_headers.set([(b"user-agent", b"Browser/1.0\x00")]),
    )
    try:
        async with unit_of_work(database) as db:
            await db.execute(audit_statement(entry))
    finally:
        current_headers.reset(tokens[2])
        current_client_ip.reset(tokens[1])
        current_request_id.reset(tokens[0])
    [row] = await test_database.fetch("SELECT * FROM audit_events WHERE id = $1", entry.id)
    assert row["type"] == "session.revoked"
    assert (row["user_id"], row["actor_kind"], row["actor_id"]) == (user_id, "user", user_id)
    assert (row["request_id"], row["ip"]) == ("req-audit-1", "203.0.113.7")
    assert row["user_agent"] == "Browser/1.0\ufffd"
    assert row["details"] == '{"reason": "reuse"}'
    queued = await test_database.fetchval(
        "SELECT count(*) FROM event_outbox WHERE event_id = $1", entry.id
    )
    assert queued == 1


async def test_a_service_event_names_no_actor(
    database: Database, test_database: ScratchDatabase
) -> None:
    entry = AuditEntry(
        EventType.REFRESH_TOKEN_REUSED, now=datetime.now(UTC), user_id=uuid.uuid4(), actor=SERVICE
    )
    async with unit_of_work(database) as db:
        await db.execute(audit_statement(entry))
    [row] = await test_database.fetch(
        "SELECT actor_kind, actor_id FROM audit_events WHERE id = $1", entry.id
    )
    assert (row["actor_kind"], row["actor_id"]) == ("service", None)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET type = 'login.succeeded'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ],
)
async def test_the_app_role_cannot_rewrite_or_erase_the_trail(
    test_database: ScratchDatabase, statement: str
) -> None:
    connection = await asyncpg.connect(as_role(test_database, "app"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute(statement)
        # and it may still read and append (what the flows and GET .../events need)
        await connection.fetchval("SELECT count(*) FROM audit_events")
    finally:
        await connection.close()
