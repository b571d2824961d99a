"""The async engine: created lazily, once per process (one Lambda execution environment)."""

from __future__ import annotations

import select
import ssl
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from authapi.config import Settings
from authapi.db.iam_auth import iam_token_provider
from authapi.exceptions import DatabaseUnavailableError


def asyncpg_connect_args(settings: Settings) -> dict[str, Any]:
    """Driver options that keep connections stateless, so a multiplexing proxy never pins them.

    Deliberately absent: `server_settings` and any SET on connect (startup options pin RDS Proxy
    sessions), and named prepared statements (they live in one server session).
    """
    args: dict[str, Any] = {
        "timeout": settings.db_connect_timeout_seconds,
        "command_timeout": settings.db_command_timeout_seconds,
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
    }
    if settings.db_require_tls:
        # verified against the system trust store (RDS Proxy presents a public ACM certificate),
        # or the bundle given (Aurora's own certificates come from the RDS CAs)
        cafile = str(settings.db_tls_ca_file) if settings.db_tls_ca_file else None
        args["ssl"] = ssl.create_default_context(cafile=cafile)
    if settings.db_auth == "iam":
        args["password"] = iam_token_provider(settings)
    return args


def _connect_or_operational_error(
    dialect: Dialect, _record: object, cargs: tuple[Any, ...], cparams: dict[str, Any]
) -> Any:
    """Open a connection; a socket that cannot be reached becomes the driver's OperationalError.

    asyncpg raises bare OSErrors where other drivers raise OperationalError: a missing unix socket
    (the server is down), an unknown host, an unreachable network. SQLAlchemy wraps only DBAPI
    errors, so without this they reach the error middleware as unknown crashes (a 500) instead of
    "the database cannot be reached" (a 503 the client can retry).
    """
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as error:
        operational_error = dialect.loaded_dbapi.OperationalError
        raise operational_error(f"cannot connect: {type(error).__name__}: {error}") from error


def _closed_by_the_server(dbapi_connection: Any) -> bool:
    """Whether a pooled connection is already known dead, found without a round trip.

    An idle connection has nothing to read. The server's end of it (a restart, a failover,
    RDS Proxy's idle timeout, pg_terminate_backend) arrives as its FATAL message and then EOF:
    either makes the socket readable, and asyncpg marks the connection closed once its loop has
    seen the EOF. Polling the socket costs a system call, not a network hop.
    """
    connection = dbapi_connection.driver_connection  # the asyncpg Connection
    if connection.is_closed():
        return True
    # private, but stable across asyncpg releases: the transport under the protocol
    sock = connection._transport.get_extra_info("socket")  # noqa: SLF001
    if sock is None:
        return True
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def _refuse_connections_the_server_closed(
    dbapi_connection: Any, _record: object, _proxy: object
) -> None:
    """Pool checkout, instead of a pre-ping (4 round trips on every checkout).

    DisconnectionError makes the pool discard this connection and check out another (a fresh
    one, if none is left): a retry strictly before any statement is sent. A connection that
    dies unannounced fails its first statement instead, after sending it, and that is never
    retried: the statement may have run (a 503 the client retries, see README).
    """
    if _closed_by_the_server(dbapi_connection):
        raise DisconnectionError("pooled connection closed by the server")


def create_engine(settings: Settings) -> AsyncEngine:
    if settings.database_url is None:
        raise DatabaseUnavailableError("AUTHAPI_DATABASE_URL is not set.")
    pool_args: dict[str, Any]
    if settings.db_pool_mode == "null":
        pool_args = {"poolclass": NullPool}
    else:
        pool_args = {
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
            "pool_timeout": settings.db_pool_timeout_seconds,
            "pool_recycle": settings.db_pool_recycle_seconds,
        }
    engine = create_async_engine(
        settings.database_url.get_secret_value(),
        connect_args=asyncpg_connect_args(settings),
        # a failed statement must never print its parameters (hashes, emails) into a log or error
        hide_parameters=True,
        **pool_args,
    )
    event.listen(engine.sync_engine, "do_connect", _connect_or_operational_error)
    event.listen(engine.sync_engine, "checkout", _refuse_connections_the_server_closed)
    return engine


class Database:
    """Owns one engine and its session factory; nothing connects until first use."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._engine: AsyncEngine | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self._autocommit_sessionmaker: async_sessionmaker[AsyncSession] | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_engine(self._settings)
        return self._engine

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        if self._sessionmaker is None:
            self._sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        return self._sessionmaker

    @property
    def autocommit_sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """Sessions whose every statement is its own transaction: no BEGIN, no COMMIT.

        The same pool: asyncpg's autocommit is a flag on the client (no round trip), set at
        checkout and reset when the connection goes back.
        """
        if self._autocommit_sessionmaker is None:
            autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self._autocommit_sessionmaker = async_sessionmaker(autocommit, expire_on_commit=False)
        return self._autocommit_sessionmaker

    async def dispose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = None
        self._sessionmaker = None
        self._autocommit_sessionmaker = None
