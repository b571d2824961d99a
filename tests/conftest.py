"""Shared fixtures: one real PostgreSQL database per test session, migrated to head."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from authapi.app import create_app
from authapi.auth.keys import generate_private_key_pem
from authapi.config import Settings
from devtools.embedded_postgres import (
    EmbeddedPostgres,
    migrate_database,
    recreate_database,
    start_embedded_postgres,
)
from tests.faults.pgbouncer import through_pgbouncer_if_requested
from tests.support import (
    Account,
    ScratchDatabase,
    client_for,
    make_settings,
    private_pgdata,
    register,
)


async def _drop_database(admin_dsn: str, name: str) -> None:
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def test_database() -> Iterator[ScratchDatabase]:
    """AUTHAPI_TEST_DATABASE_URL's server when set, else an embedded one; a fresh database in it.

    With AUTHAPI_TEST_VIA_PGBOUNCER=1 the app reaches it through a transaction-pooling PgBouncer
    (migrations and tests that look under the app go direct).
    """
    name = f"authapi_test_{uuid.uuid4().hex[:12]}"
    configured = os.environ.get("AUTHAPI_TEST_DATABASE_URL")
    server: EmbeddedPostgres | None = None
    if configured:
        admin = make_url(configured).set(drivername="postgresql")
    else:
        server = start_embedded_postgres(private_pgdata(), cleanup="delete")
        admin = make_url(server.dsn())
    admin_dsn = admin.render_as_string(hide_password=False)
    asyncio.run(recreate_database(admin_dsn, name))
    url = admin.set(drivername="postgresql+asyncpg", database=name).render_as_string(
        hide_password=False
    )
    asyncio.run(migrate_database(url))
    with through_pgbouncer_if_requested(url) as app_url:
        yield ScratchDatabase(url=app_url, server=server, direct_url=url)
    asyncio.run(_drop_database(admin_dsn, name))


@pytest.fixture(scope="session")
def signing_key_pem() -> str:
    return generate_private_key_pem()


@pytest.fixture(scope="session")
def settings(test_database: ScratchDatabase, signing_key_pem: str) -> Settings:
    return make_settings(test_database, signing_key_pem)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await application.state.resources.database.dispose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as http:
        yield http


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    return await register(client)


@pytest.fixture
def hash_verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes argon2 checks a password against from now on, in order (the real check runs)."""
    checked: list[str] = []
    original = PasswordHasher.verify

    def spy(self: PasswordHasher, hash: str, password: str | bytes) -> bool:
        checked.append(hash)
        return original(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    return checked


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what tests measured but must not assert on (`record_property("terminal_summary")`)."""
    lines = [
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport) and report.when == "call"
        for name, value in report.user_properties
        if name == "terminal_summary"
    ]
    if lines:
        terminalreporter.write_sep("-", "measurements")
        for line in lines:
            terminalreporter.write_line(line)
