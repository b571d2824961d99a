"""The maintenance run on a database of its own, connected as the maintenance role (as in AWS):
what each table loses, on which horizon, in batches of at most 1,000 rows, within the time it is
given.

Issue 9, item 8: sessions and refresh tokens were never deleted. Issue 9, item 2: the abuse
tables are purged on their own horizons (here), never from requests (tests/integration/abuse).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import make_url

from authapi.config import Settings
from authapi.db.engine import Database
from authapi.maintenance import BATCH_SIZE, batch_reserve_seconds, run_maintenance
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase, scratch_database

pytestmark = pytest.mark.integration

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
TABLES = (
    "refresh_tokens",
    "auth_sessions",
    "device_tokens",
    "users",
    "rate_limit_buckets",
    "login_throttles",
)


def no_deadline() -> float:
    return math.inf


@pytest.fixture(scope="module")
def maintained() -> Iterator[ScratchDatabase]:
    """A database only this module writes: a run deletes across whole tables."""
    with scratch_database() as database:
        yield database


@pytest.fixture
def settings(maintained: ScratchDatabase) -> Settings:
    url = make_url(maintained.direct_url or maintained.url)
    as_maintenance = url.set(username=f"{maintained.role_prefix}_maintenance")
    return Settings(
        environment="test",
        database_url=as_maintenance.render_as_string(hide_password=False),
        db_role_prefix=maintained.role_prefix,
    )


@pytest.fixture
async def database(maintained: ScratchDatabase, settings: Settings) -> AsyncIterator[Database]:
    await maintained.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
    database = Database(settings)
    yield database
    await database.dispose()


@pytest.fixture
def deletes(database: Database) -> list[tuple[str, int]]:
    """(table, rows) of every DELETE the run's connection executes, as the driver reports it."""
    seen: list[tuple[str, int]] = []

    def record(_conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("DELETE FROM"):
            seen.append((statement.split()[2], cursor.rowcount))

    event.listen(database.engine.sync_engine, "after_cursor_execute", record)
    return seen


async def add_user(db: ScratchDatabase) -> uuid.UUID:
    user_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'unused')",
        user_id,
        f"{user_id.hex}@example.com",
    )
    return user_id


async def add_session(
    db: ScratchDatabase,
    user_id: uuid.UUID,
    *,
    expires_at: datetime,
    revoked_at: datetime | None = None,
    tokens: int = 1,
) -> uuid.UUID:
    session_id = uuid.uuid4()
    await db.execute(
        "INSERT INTO auth_sessions (id, user_id, created_at, expires_at, revoked_at) "
        "VALUES ($1, $2, $3, $4, $5)",
        session_id,
        user_id,
        expires_at - timedelta(days=30),
        expires_at,
        revoked_at,
    )
    for index in range(tokens):
        # the older ones consumed, the first one expired long ago: a live session keeps them all
        await db.execute(
            "INSERT INTO refresh_tokens (id, session_id, token_hash, expires_at, consumed_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            uuid.uuid4(),
            session_id,
            uuid.uuid4().bytes * 2,
            NOW - timedelta(days=40) if index == 0 else NOW + timedelta(days=7),
            NOW - timedelta(days=1) if index < tokens - 1 else None,
        )
    return session_id


async def session_ids(db: ScratchDatabase) -> set[uuid.UUID]:
    return {row["id"] for row in await db.fetch("SELECT id FROM auth_sessions")}


async def tokens_of(db: ScratchDatabase, session_id: uuid.UUID) -> int:
    return int(
        await db.fetchval("SELECT count(*) FROM refresh_tokens WHERE session_id = $1", session_id)
    )


async def test_sessions_over_for_longer_than_the_retention_go_with_their_tokens(
    maintained: ScratchDatabase, database: Database, settings: Settings
) -> None:
    user = await add_user(maintained)
    day = timedelta(days=1)
    live = await add_session(maintained, user, expires_at=NOW + 10 * day, tokens=3)
    expired_lately = await add_session(maintained, user, expires_at=NOW - 29 * day)
    revoked_lately = await add_session(
        maintained, user, expires_at=NOW + 10 * day, revoked_at=NOW - day
    )
    expired_long_ago = await add_session(maintained, user, expires_at=NOW - 31 * day, tokens=2)
    revoked_long_ago = await add_session(
        maintained, user, expires_at=NOW + 10 * day, revoked_at=NOW - 31 * day, tokens=2
    )

    report = await run_maintenance(
        database, settings, clock=ManualClock(NOW), seconds_left=no_deadline
    )

    assert await session_ids(maintained) == {live, expired_lately, revoked_lately}
    # the live session's tokens, its consumed and long-expired ones too, are all still there
    assert await tokens_of(maintained, live) == 3
    assert await tokens_of(maintained, expired_lately) == 1
    assert await tokens_of(maintained, expired_long_ago) == 0
    assert await tokens_of(maintained, revoked_long_ago) == 0
    assert report.deleted["auth_sessions"] == 2
    assert report.deleted["refresh_tokens"] == 4
    assert report.finished


async def test_the_retention_period_is_a_setting(
    maintained: ScratchDatabase, database: Database, settings: Settings
) -> None:
    user = await add_user(maintained)
    kept = await add_session(maintained, user, expires_at=NOW - timedelta(days=6))
    await add_session(maintained, user, expires_at=NOW - timedelta(days=8))

    await run_maintenance(
        database,
        settings.model_copy(update={"retention_days": 7}),
        clock=ManualClock(NOW),
        seconds_left=no_deadline,
    )

    assert await session_ids(maintained) == {kept}


async def test_abuse_rows_go_on_their_own_horizons(
    maintained: ScratchDatabase, database: Database, settings: Settings
) -> None:
    minute = timedelta(minutes=1)
    buckets = {"current": NOW - 59 * minute / 60, "ended": NOW - 61 * minute / 60}
    for key, window_start in buckets.items():
        await maintained.execute(
            "INSERT INTO rate_limit_buckets (key, window_start, hits) VALUES ($1, $2, 7)",
            key,
            window_start,
        )
    throttles = {
        b"in the window": (NOW - 14 * minute, None),
        b"window over": (NOW - 16 * minute, None),
        b"window and lock over": (NOW - 16 * minute, NOW - minute),
        b"window over, still locked": (NOW - 16 * minute, NOW + 5 * minute),
    }
    for account_key, (started, locked_until) in throttles.items():
        await maintained.execute(
            "INSERT INTO login_throttles (account_key, failures, window_started_at, locked_until)"
            " VALUES ($1, 9, $2, $3)",
            account_key.ljust(32),
            started,
            locked_until,
        )

    report = await run_maintenance(
        database, settings, clock=ManualClock(NOW), seconds_left=no_deadline
    )

    assert settings.rate_limit_window_seconds == 60
    assert settings.login_failure_window_seconds == 15 * 60
    kept_buckets = await maintained.fetch("SELECT key FROM rate_limit_buckets")
    assert [row["key"] for row in kept_buckets] == ["current"]
    kept_throttles = await maintained.fetch("SELECT account_key FROM login_throttles")
    assert {bytes(row["account_key"]).rstrip() for row in kept_throttles} == {
        b"in the window",
        b"window over, still locked",
    }
    assert report.deleted["rate_limit_buckets"] == 1
    assert report.deleted["login_throttles"] == 2


async def test_no_statement_deletes_more_than_a_thousand_rows(
    maintained: ScratchDatabase,
    database: Database,
    settings: Settings,
    deletes: list[tuple[str, int]],
) -> None:
    user = await add_user(maintained)
    live = await add_session(maintained, user, expires_at=NOW + timedelta(days=1), tokens=2)
    await maintained.execute(
        """
        WITH sessions AS (
            INSERT INTO auth_sessions (id, user_id, created_at, expires_at)
            SELECT gen_random_uuid(), $1, $2::timestamptz - interval '30 days', $2
            FROM generate_series(1, 2500)
            RETURNING id
        )
        INSERT INTO refresh_tokens (id, session_id, token_hash, expires_at)
        SELECT gen_random_uuid(), id, sha256(uuid_send(gen_random_uuid())), $2
        FROM sessions, generate_series(1, 2)
        """,
        user,
        NOW - timedelta(days=31),
    )

    report = await run_maintenance(
        database, settings, clock=ManualClock(NOW), seconds_left=no_deadline
    )

    assert await session_ids(maintained) == {live}
    assert await tokens_of(maintained, live) == 2
    assert report.deleted["refresh_tokens"] == 5000
    assert report.deleted["auth_sessions"] == 2500
    assert BATCH_SIZE == 1000
    assert max(rows for _, rows in deletes) == 1000
    assert sum(rows for table, rows in deletes if table == "refresh_tokens") == 5000
    assert sum(rows for table, rows in deletes if table == "auth_sessions") == 2500
    # a session goes only once its tokens have: its DELETE never cascades beyond the batch
    assert await maintained.fetchval("SELECT count(*) FROM refresh_tokens") == 2


async def test_a_run_stops_when_the_time_left_would_not_fit_a_batch(
    maintained: ScratchDatabase, database: Database, settings: Settings
) -> None:
    await maintained.execute(
        "INSERT INTO rate_limit_buckets (key, window_start, hits) "
        "SELECT 'ended-' || n, $1, 1 FROM generate_series(1, 2500) AS n",
        NOW - timedelta(hours=1),
    )
    reserve = batch_reserve_seconds(settings)
    budget = iter([reserve + 1, reserve + 1])  # two batches, then less than one batch's worth

    def seconds_left() -> float:
        return next(budget, reserve - 0.1)

    first = await run_maintenance(
        database, settings, clock=ManualClock(NOW), seconds_left=seconds_left
    )
    left = await maintained.fetchval("SELECT count(*) FROM rate_limit_buckets")
    second = await run_maintenance(
        database, settings, clock=ManualClock(NOW), seconds_left=no_deadline
    )

    assert not first.finished
    assert first.deleted["rate_limit_buckets"] == 1000
    assert left == 1500
    assert second.finished
    assert second.deleted["rate_limit_buckets"] == 1500
    assert await maintained.fetchval("SELECT count(*) FROM rate_limit_buckets") == 0


async def test_device_tokens_go_once_they_expired(
    maintained: ScratchDatabase, database: Database, settings: Settings
) -> None:
    user = await add_user(maintained)
    for name, expires_at in (("valid", NOW + timedelta(days=1)), ("expired", NOW - timedelta(1))):
        await maintained.execute(
            "INSERT INTO device_tokens (token_hash, user_id, created_at, expires_at)"
            " VALUES ($1, $2, $3, $4)",
            name.encode().ljust(32),
            user,
            expires_at - timedelta(days=90),
            expires_at,
        )

    report = await run_maintenance(
        database, settings, clock=ManualClock(NOW), seconds_left=no_deadline
    )

    kept = await maintained.fetch("SELECT token_hash FROM device_tokens")
    assert [bytes(row["token_hash"]).rstrip() for row in kept] == [b"valid"]
    assert report.deleted["device_tokens"] == 1


@pytest.mark.head_schema
async def test_account_tokens_go_once_they_expired(
    maintained: ScratchDatabase, database: Database, settings: Settings
) -> None:
    user = await add_user(maintained)
    for name, expires_at in (("live", NOW + timedelta(minutes=5)), ("dead", NOW - timedelta(1))):
        await maintained.execute(
            "INSERT INTO account_tokens (id, outbox_id, account_id, purpose, token_hash, binding,"
            " created_at, expires_at) VALUES ($1, $2, $3, 'password_reset', $4, $5, $6, $7)",
            uuid.uuid4(),
            uuid.uuid4(),
            user,
            name.encode().ljust(32),
            b"b" * 32,
            expires_at - timedelta(minutes=30),
            expires_at,
        )

    report = await run_maintenance(
        database, settings, clock=ManualClock(NOW), seconds_left=no_deadline
    )

    kept = await maintained.fetch("SELECT token_hash FROM account_tokens")
    assert [bytes(row["token_hash"]).rstrip() for row in kept] == [b"live"]
    assert report.deleted["account_tokens"] == 1


@pytest.mark.head_schema
async def test_mfa_challenges_go_once_spent_or_expired(
    maintained: ScratchDatabase, database: Database, settings: Settings
) -> None:
    user = await add_user(maintained)
    rows = (
        ("live", NOW + timedelta(minutes=4), None),
        ("spent", NOW + timedelta(minutes=4), NOW - timedelta(minutes=1)),
        ("expired", NOW - timedelta(seconds=1), None),
    )
    for name, expires_at, used_at in rows:
        await maintained.execute(
            "INSERT INTO mfa_challenges (token_hash, user_id, client_id, created_at, expires_at,"
            " used_at) VALUES ($1, $2, 'default', $3, $4, $5)",
            name.encode().ljust(32),
            user,
            expires_at - timedelta(minutes=5),
            expires_at,
            used_at,
        )

    report = await run_maintenance(
        database, settings, clock=ManualClock(NOW), seconds_left=no_deadline
    )

    kept = await maintained.fetch("SELECT token_hash FROM mfa_challenges")
    assert [bytes(row["token_hash"]).rstrip() for row in kept] == [b"live"]
    assert report.deleted["mfa_challenges"] == 2
