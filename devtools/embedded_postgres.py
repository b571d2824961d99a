"""A private PostgreSQL server from the `pgserver` wheel: no system install, no Docker.

`local_database(name)` is what every dev tool starts with: the database AUTHAPI_DATABASE_URL
names, when it is set, else database `name` on the embedded server whose data lives in
.local/pgdata (started on first use).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncpg

DATABASE_URL = "AUTHAPI_DATABASE_URL"
LOCAL_PGDATA = Path(".local") / "pgdata"


@dataclass
class EmbeddedPostgres:
    pgdata: Path
    socket_dir: str
    _server: object

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL over the server's unix socket (it listens on no TCP port)."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"

    def dsn(self, database: str = "postgres") -> str:
        """Plain libpq/asyncpg DSN."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def pg_ctl(self, *args: str) -> None:
        import pgserver

        # pgserver makes one function per PostgreSQL binary at import: invisible to mypy
        pg_ctl: Callable[..., str] = vars(pgserver)["pg_ctl"]
        pg_ctl(list(args), pgdata=self.pgdata, user=getattr(self._server, "system_user", None))

    def stop(self, mode: Literal["fast", "immediate"] = "fast") -> None:
        """fast: sessions end cleanly; immediate: every process quits at once, as in a crash."""
        self.pg_ctl("-w", "-m", mode, "stop")

    def start(self) -> None:
        self.pg_ctl(
            "-w",
            "-o",
            '-h ""',
            "-o",
            f"-k {self.socket_dir}",
            "-l",
            str(self.pgdata / "log"),
            "start",
        )

    def create_database(self, name: str) -> None:
        asyncio.run(_create_database(self.dsn(), name))


async def _create_database(dsn: str, name: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def recreate_database(admin_dsn: str, name: str) -> str:
    """Drop `name` (closing its connections) and create it empty; return the server's version."""
    connection = await asyncpg.connect(admin_dsn)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def migrate_database(
    url: str, *, role_prefix: str = "authapi", revision: str = "head"
) -> tuple[str, ...]:
    """Apply the app's migrations to the database at `url` (SQLAlchemy URL), up to `revision`;
    return its heads.

    `role_prefix` names the roles the migrations create (`<prefix>_app`, `<prefix>_migrator`).
    """
    from authapi.config import Settings
    from authapi.db.engine import create_engine
    from authapi.migrations import upgrade_to

    engine = create_engine(Settings(environment="test", database_url=url))
    try:
        return await upgrade_to(engine, revision, role_prefix=role_prefix)
    finally:
        await engine.dispose()


def start_embedded_postgres(
    pgdata: Path, *, cleanup: Literal["stop", "delete"] = "stop"
) -> EmbeddedPostgres:
    """Start (initialising on first use) a server whose data lives in `pgdata`."""
    # pgserver keeps its lock file in the runtime dir: one fixed place per user, not one per
    # data folder (those come and go with every test session)
    os.environ.setdefault(
        "XDG_RUNTIME_DIR", str(Path(tempfile.gettempdir()) / f"authapi-run-{os.getuid()}")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs' runtime-dir notice: noise, not news
        from pgserver.postgres_server import get_server

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = get_server(pgdata, cleanup_mode=cleanup)
    uri = server.get_uri()
    socket_dir = uri.split("host=", 1)[1]
    return EmbeddedPostgres(pgdata=pgdata, socket_dir=socket_dir, _server=server)


@dataclass(frozen=True)
class LocalDatabase:
    url: str  # SQLAlchemy URL (postgresql+psycopg://...) for the app
    server: EmbeddedPostgres | None  # None: AUTHAPI_DATABASE_URL's server, not ours
    description: str  # for a tool's output: which database it is using

    @property
    def dsn(self) -> str:
        """The same database as a plain libpq/asyncpg DSN."""
        plain = self.url.split("://", 1)[1]
        return f"postgresql://{plain}"


def local_database(name: str, *, fresh: bool = False) -> LocalDatabase:
    """AUTHAPI_DATABASE_URL when set (as it is), else database `name` on the embedded server.

    fresh: drop and recreate `name` first; only ever on the embedded server, whose data is ours.
    """
    configured = os.environ.get(DATABASE_URL)
    if configured:
        return LocalDatabase(_app_url(configured), None, f"{DATABASE_URL} (used as it is)")
    server = start_embedded_postgres(LOCAL_PGDATA.resolve(), cleanup="stop")
    if fresh:
        asyncio.run(recreate_database(server.dsn(), name))
    else:
        server.create_database(name)
    state = "fresh" if fresh else "kept"
    where = f"embedded PostgreSQL in {LOCAL_PGDATA}, database {name} ({state})"
    return LocalDatabase(server.url(name), server, where)


def _app_url(url: str) -> str:
    """The app's own rule (config.Settings): a plain postgresql:// URL means psycopg."""
    for plain in ("postgresql://", "postgres://", "postgresql+asyncpg://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url.removeprefix(plain)
    return url
