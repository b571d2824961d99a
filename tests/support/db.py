"""The databases tests run on, and reading them directly, under the app.

`ScratchDatabase` is the session's own database (on the configured server or an embedded one);
`DedicatedDatabase` is a server of its own, for tests that stop it or cut its connections.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from devtools.embedded_postgres import (
    EmbeddedPostgres,
    migrate_database,
    recreate_database,
    start_embedded_postgres,
)
from tests.support.pgbouncer import through_pgbouncer_if_requested

TEST_SCHEMA = "AUTHAPI_TEST_SCHEMA"
TEST_DATABASE_URL = "AUTHAPI_TEST_DATABASE_URL"


def private_pgdata() -> Path:
    """A data folder outside pytest's numbered temp dirs, which a concurrent pytest may prune.

    Removed at exit; pgserver's own exit hook, registered later, runs first and stops the server.
    """
    folder = Path(tempfile.mkdtemp(prefix="authapi-test-pg-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder / "data"


class DirectReads:
    """Statements straight to the database, one connection each: what the app left there."""

    @property
    def dsn(self) -> str:
        raise NotImplementedError

    async def fetchval(self, query: str, *args: object) -> Any:
        connection = await asyncpg.connect(self.dsn)
        try:
            return await connection.fetchval(query, *args)
        finally:
            await connection.close()

    async def fetch(self, query: str, *args: object) -> list[Any]:
        connection = await asyncpg.connect(self.dsn)
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()

    async def execute(self, query: str, *args: object) -> str:
        connection = await asyncpg.connect(self.dsn)
        try:
            status: str = await connection.execute(query, *args)
            return status
        finally:
            await connection.close()


@dataclass
class ScratchDatabase(DirectReads):
    url: str  # SQLAlchemy (postgresql+psycopg) URL the app uses for this session's own database
    server: EmbeddedPostgres | None  # the embedded server, when the tests started one
    direct_url: str | None = None  # the database itself, when `url` goes through PgBouncer
    # the migrations' roles, <prefix>_app and <prefix>_migrator, belong to the whole server:
    # one prefix per database
    role_prefix: str = "authapi"

    @property
    def dsn(self) -> str:
        """The database itself as a plain asyncpg DSN (never through PgBouncer)."""
        direct = make_url(self.direct_url or self.url)
        return direct.set(drivername="postgresql").render_as_string(hide_password=False)


async def _drop_database(admin_dsn: str, name: str, *, role_prefix: str | None = None) -> None:
    """Drop the database, and the roles its migrations made (they outlive it otherwise)."""
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if role_prefix is not None:
            await connection.execute(
                f'DROP ROLE IF EXISTS "{role_prefix}_app", "{role_prefix}_maintenance", '
                f'"{role_prefix}_migrator"'
            )
    finally:
        await connection.close()


def session_schema_revision() -> str:
    """The schema the session's database is migrated to: head, or with AUTHAPI_TEST_SCHEMA=previous
    the one before the newest migration (`make test-previous-schema`: the new code on the schema
    it meets during a deploy, before its hook has migrated)."""
    if os.environ.get(TEST_SCHEMA) == "previous":
        from authapi.migrations import previous_revision

        return previous_revision()
    return "head"


@contextmanager
def scratch_database() -> Iterator[ScratchDatabase]:
    """AUTHAPI_TEST_DATABASE_URL's server when set, else an embedded one; a fresh database in it.

    With AUTHAPI_TEST_VIA_PGBOUNCER=1 the app reaches it through a transaction-pooling PgBouncer
    (migrations and tests that look under the app go direct). Dropped afterwards.
    """
    name = f"authapi_test_{uuid.uuid4().hex[:12]}"
    configured = os.environ.get(TEST_DATABASE_URL)
    server: EmbeddedPostgres | None = None
    if configured:
        admin = make_url(configured).set(drivername="postgresql")
    else:
        server = start_embedded_postgres(private_pgdata(), cleanup="delete")
        admin = make_url(server.dsn())
    admin_dsn = admin.render_as_string(hide_password=False)
    asyncio.run(recreate_database(admin_dsn, name))
    url = admin.set(drivername="postgresql+psycopg", database=name).render_as_string(
        hide_password=False
    )
    # roles of its own: concurrent test sessions on one server never share (or drop) each other's
    asyncio.run(migrate_database(url, role_prefix=name, revision=session_schema_revision()))
    try:
        with through_pgbouncer_if_requested(url) as app_url:
            yield ScratchDatabase(url=app_url, server=server, direct_url=url, role_prefix=name)
    finally:
        asyncio.run(_drop_database(admin_dsn, name, role_prefix=name))


@asynccontextmanager
async def sibling_database(
    database: ScratchDatabase, *, revision: str
) -> AsyncIterator[ScratchDatabase]:
    """Another database on `database`'s server, migrated only up to `revision`; dropped after.

    Straight to the server (never PgBouncer), with roles of its own, like `scratch_database`.
    """
    from authapi.config import Settings
    from authapi.db.engine import create_engine
    from authapi.migrations import upgrade_to

    name = f"authapi_test_{uuid.uuid4().hex[:12]}"
    server = make_url(database.direct_url or database.url)
    admin_dsn = server.set(drivername="postgresql").render_as_string(hide_password=False)
    await recreate_database(admin_dsn, name)
    url = server.set(database=name).render_as_string(hide_password=False)
    engine = create_engine(Settings(environment="test", database_url=url))
    try:
        await upgrade_to(engine, revision, role_prefix=name)
    finally:
        await engine.dispose()
    try:
        yield ScratchDatabase(url=url, server=database.server, direct_url=url, role_prefix=name)
    finally:
        await _drop_database(admin_dsn, name, role_prefix=name)


@dataclass
class DedicatedDatabase(DirectReads):
    """A migrated database on an embedded server that only its tests use."""

    server: EmbeddedPostgres
    name: str = "authapi"

    @property
    def url(self) -> str:
        return self.server.url(self.name)

    @property
    def dsn(self) -> str:
        return self.server.dsn(self.name)

    @property
    def socket_path(self) -> str:
        (socket,) = Path(self.server.socket_dir).glob(".s.PGSQL.[0-9]*[0-9]")
        return str(socket)

    @property
    def running(self) -> bool:
        return (self.server.pgdata / "postmaster.pid").exists()

    def scratch(self, url: str | None = None) -> ScratchDatabase:
        """This database as the session's kind, reached at `url` (a proxy in front) if given."""
        return ScratchDatabase(url=url or self.url, server=self.server, direct_url=self.url)


@contextmanager
def dedicated_database() -> Iterator[DedicatedDatabase]:
    """Start a server, migrate a database in it; stop it and delete its files afterwards."""
    pgdata = private_pgdata()
    database = DedicatedDatabase(server=start_embedded_postgres(pgdata, cleanup="delete"))
    try:
        database.server.create_database(database.name)
        asyncio.run(migrate_database(database.url))
        yield database
    finally:
        if database.running:
            database.server.stop()
        # pgserver's own exit hook finds nothing left to clean once the folder is gone
        shutil.rmtree(pgdata.parent, ignore_errors=True)


def as_role(database: ScratchDatabase, role: str, *, driver: str = "postgresql") -> str:
    """The test database's URL for one of its roles (`app`, `maintenance`, `migrator`), straight
    to PostgreSQL."""
    url = make_url(database.direct_url or database.url)
    return url.set(drivername=driver, username=f"{database.role_prefix}_{role}").render_as_string(
        hide_password=False
    )
