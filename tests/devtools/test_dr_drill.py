"""`make dr-drill`'s core, on the session's server: pg_dump under traffic, restore, migrate, smoke;
nothing acknowledged before the dump may be missing, and a missing row is counted."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from devtools.dr_drill import Server, lost_writes, pg_tools, run_drill, tool_major
from tests.support.db import ScratchDatabase

pytestmark = pytest.mark.integration


@pytest.fixture
def server(test_database: ScratchDatabase) -> Server:
    return Server(make_url(test_database.dsn).set(database="postgres"))


def test_restore_under_traffic_loses_no_acknowledged_write(server: Server) -> None:
    prefix = f"authapi_drill_{uuid.uuid4().hex[:8]}"
    report = run_drill(server, role_prefix=prefix, traffic_seconds=2.0, writers=2, keep=True)
    restored = server.database(f"{prefix}_restored")
    try:
        assert report.users_before_dump > 0
        assert report.sessions_before_dump > 0
        assert report.traffic_failures == ()
        assert report.rows_lost == 0
        assert report.rto_seconds >= report.restore_seconds + report.migrate_seconds
        # the count is real: an acknowledged account taken out of the restore is one lost
        user = asyncio.run(_delete_one_user(restored))
        assert asyncio.run(lost_writes(restored, {user}, set())) == (1, 0)
    finally:
        asyncio.run(_drop(server, f"{prefix}_restored", prefix))


def test_tools_must_match_the_server_major_version(tmp_path: Path, server: Server) -> None:
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("pg_dump", "pg_restore"):
        (folder / tool).write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
        (folder / tool).chmod(0o755)
    assert tool_major(folder / "pg_dump") == 9
    assert pg_tools(9, [folder]) == folder
    with pytest.raises(SystemExit, match="no pg_dump/pg_restore of PostgreSQL 15"):
        pg_tools(15, [folder])


async def _delete_one_user(dsn: str) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        user = await connection.fetchval(
            "DELETE FROM users WHERE id = (SELECT id FROM users LIMIT 1) RETURNING id"
        )
    finally:
        await connection.close()
    return str(user)


async def _drop(server: Server, name: str, prefix: str) -> None:
    connection = await asyncpg.connect(server.admin_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'DROP ROLE IF EXISTS "{prefix}_app", "{prefix}_migrator"')
    finally:
        await connection.close()
