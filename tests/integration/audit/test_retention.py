"""The audit trail's retention: the maintenance run deletes rows past `audit_retention_days`, and
only the maintenance role may (the app's records and reads, never erases)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ProgrammingError

from authapi.config import Settings
from authapi.db.engine import Database
from authapi.maintenance import run_maintenance
from authapi.migrations.roles import ROLE_TIMEOUTS
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase, as_role, scratch_database

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


def no_deadline() -> float:
    return math.inf


@pytest.fixture(scope="module")
def retained() -> Iterator[ScratchDatabase]:
    """A database only this module writes: a run purges across the whole trail."""
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
        **values,
    )


@pytest.fixture
async def emptied(retained: ScratchDatabase) -> ScratchDatabase:
    await retained.execute("TRUNCATE audit_events, event_outbox")
    return retained


async def add_event(database: ScratchDatabase, occurred_at: datetime) -> uuid.UUID:
    """An event of a deleted account, say: its user id names no row (no foreign key)."""
    event_id = uuid.uuid4()
    await database.execute(
        "INSERT INTO audit_events (id, occurred_at, type, user_id, actor_kind)"
        " VALUES ($1, $2, 'account.deleted', $3, 'user')",
        event_id,
        occurred_at,
        uuid.uuid4(),
    )
    await database.execute(
        "INSERT INTO event_outbox (event_id, created_at) VALUES ($1, $2)", event_id, occurred_at
    )
    return event_id


async def maintain_as(database: ScratchDatabase, role: str, **values: Any) -> Any:
    settings = settings_as(database, role, **values)
    engine = Database(settings)
    try:
        return await run_maintenance(
            engine,
            settings,
            clock=ManualClock(NOW),
            seconds_left=no_deadline,
            event_sink=_NeverCalled(),
        )
    finally:
        await engine.dispose()


class _NeverCalled:
    """A bus for runs whose outbox rows are all past the retention (nothing is left to send)."""

    def put_events(self, entries: object) -> list[str | None]:
        raise AssertionError("nothing should be published")

    def close(self) -> None:
        pass


async def test_only_rows_older_than_the_horizon_go(emptied: ScratchDatabase) -> None:
    old = await add_event(emptied, NOW - 90 * DAY - timedelta(seconds=1))
    kept = await add_event(emptied, NOW - 89 * DAY)
    await emptied.execute("DELETE FROM event_outbox WHERE event_id = $1", kept)  # published

    report = await maintain_as(emptied, "maintenance")

    remaining = await emptied.fetch("SELECT id FROM audit_events")
    assert [row["id"] for row in remaining] == [kept]
    assert report.deleted["audit_events"] == 1
    # its outbox row went too: past the retention an event can never be published
    assert report.deleted["event_outbox"] == 1
    assert await emptied.fetchval("SELECT count(*) FROM event_outbox WHERE event_id = $1", old) == 0


async def test_the_horizon_is_a_setting(emptied: ScratchDatabase) -> None:
    for age in (2, 3, 5):
        await add_event(emptied, NOW - age * DAY - timedelta(seconds=1))
    await emptied.execute("TRUNCATE event_outbox")

    report = await maintain_as(emptied, "maintenance", audit_retention_days=3)

    assert report.deleted["audit_events"] == 2
    assert await emptied.fetchval("SELECT count(*) FROM audit_events") == 1


def test_the_retention_is_ninety_days_unless_told_and_at_least_one() -> None:
    assert Settings(environment="test").audit_retention_days == 90
    with pytest.raises(ValueError, match="audit_retention_days"):
        Settings(environment="test", audit_retention_days=0)


async def test_a_backlog_goes_in_batches_of_a_thousand(emptied: ScratchDatabase) -> None:
    await emptied.execute(
        "INSERT INTO audit_events (id, occurred_at, type, actor_kind)"
        " SELECT gen_random_uuid(), $1, 'logout', 'user' FROM generate_series(1, 2500)",
        NOW - 100 * DAY,
    )

    report = await maintain_as(emptied, "maintenance")

    assert report.deleted["audit_events"] == 2500
    assert await emptied.fetchval("SELECT count(*) FROM audit_events") == 0


async def test_the_run_as_the_app_role_cannot_purge_the_trail(emptied: ScratchDatabase) -> None:
    await add_event(emptied, NOW - 100 * DAY)

    with pytest.raises(ProgrammingError, match="permission denied for table audit_events"):
        await maintain_as(emptied, "app")

    assert await emptied.fetchval("SELECT count(*) FROM audit_events") == 1


async def test_the_maintenance_role_may_delete_audit_rows_and_nothing_more(
    emptied: ScratchDatabase,
) -> None:
    event_id = await add_event(emptied, NOW)
    connection = await asyncpg.connect(as_role(emptied, "maintenance"))
    try:
        for statement in (
            "UPDATE audit_events SET type = 'login.succeeded'",
            "TRUNCATE audit_events",
            "SELECT version_num FROM alembic_version",
            "CREATE TABLE intruder (id int)",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await connection.execute(statement)
        assert await connection.execute("DELETE FROM audit_events WHERE id = $1", event_id) == (
            "DELETE 1"
        )
    finally:
        await connection.close()
    app = await asyncpg.connect(as_role(emptied, "app"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await app.execute("DELETE FROM audit_events")
    finally:
        await app.close()


async def test_the_maintenance_role_has_the_app_roles_timeouts(emptied: ScratchDatabase) -> None:
    connection = await asyncpg.connect(as_role(emptied, "maintenance"))
    try:
        for name, value in ROLE_TIMEOUTS.items():
            assert await connection.fetchval(f"SHOW {name}") == value
    finally:
        await connection.close()
