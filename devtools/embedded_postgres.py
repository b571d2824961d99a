"""A private PostgreSQL server from the `pgserver` wheel: no system install, no Docker."""

from __future__ import annotations

import asyncio
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncpg


@dataclass
class EmbeddedPostgres:
    pgdata: Path
    socket_dir: str
    _server: object

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL over the server's unix socket (it listens on no TCP port)."""
        return f"postgresql+asyncpg://postgres@/{database}?host={self.socket_dir}"

    def dsn(self, database: str = "postgres") -> str:
        """Plain libpq/asyncpg DSN."""
        return f"postgresql://postgres@/{database}?host={self.socket_dir}"

    def pg_ctl(self, *args: str) -> None:
        import pgserver

        server = self._server
        pgserver.pg_ctl(list(args), pgdata=self.pgdata, user=getattr(server, "system_user", None))

    def stop(self) -> None:
        self.pg_ctl("-w", "-m", "fast", "stop")

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


async def migrate_database(url: str) -> tuple[str, ...]:
    """Apply the app's migrations to the database at `url` (SQLAlchemy URL); return its heads."""
    from authapi.config import Settings
    from authapi.db.engine import create_engine
    from authapi.migrations import upgrade_to_head

    engine = create_engine(Settings(environment="test", database_url=url))
    try:
        return await upgrade_to_head(engine)
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
        import pgserver

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(pgdata, cleanup_mode=cleanup)
    uri = server.get_uri()
    socket_dir = uri.split("host=", 1)[1]
    return EmbeddedPostgres(pgdata=pgdata, socket_dir=socket_dir, _server=server)
