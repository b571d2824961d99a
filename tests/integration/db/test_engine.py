"""The engine against a real server: a pooled connection the server dropped is never handed out."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from authapi.config import Settings
from authapi.db.engine import create_engine
from tests.support.db import ScratchDatabase

pytestmark = pytest.mark.integration


async def test_a_connection_killed_while_pooled_is_replaced_before_use(
    settings: Settings, test_database: ScratchDatabase
) -> None:
    engine = create_engine(settings)  # the session's pool of one
    try:
        async with engine.connect() as connection:
            first_pid = await connection.scalar(text("SELECT pg_backend_pid()"))
        # a restart, a failover, RDS Proxy recycling: the server ends the idle connection (and
        # we wait until it has: the app's next request comes long after, not in the same instant)
        assert await test_database.fetchval("SELECT pg_terminate_backend($1, 5000)", first_pid)

        async with engine.connect() as connection:
            second_pid = await connection.scalar(text("SELECT pg_backend_pid()"))
    finally:
        await engine.dispose()

    # the checkout saw the closed socket (no pre-ping, no round trip) and opened another
    # connection: the query never saw the error
    assert second_pid != first_pid
