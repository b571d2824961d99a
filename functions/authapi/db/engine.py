"""The async engine: created lazily, once per process (one Lambda execution environment)."""

from __future__ import annotations

import math
import os
import select
import ssl
from collections.abc import Callable
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
from authapi.db.tenant_criteria import TenantSession
from authapi.exceptions import DatabaseUnavailableError


def driver_connect_args(settings: Settings) -> dict[str, Any]:
    """psycopg options that keep connections stateless, so a multiplexing proxy never pins them.

    `prepare_threshold=None`: no named server-side prepared statements (they live in one server
    session and pin RDS Proxy). psycopg then sends each statement unnamed, Parse + Bind +
    Execute + Sync in one flight: one round trip per statement, where asyncpg needed two (it
    prepares, then executes). Deliberately absent: `options` and any SET on connect (startup
    options pin RDS Proxy sessions too).

    There is no client-side statement timer in psycopg's async path. A statement that runs
    too long is ended by the roles' `statement_timeout` (migration 0004) and RDS Proxy's
    borrow timeout; a network that stops answering is ended by `tcp_user_timeout` (unacked
    data) and keepalives (an idle wait for the answer).
    """
    args: dict[str, Any] = {
        "prepare_threshold": None,
        # libpq takes whole seconds, and treats 1 as 2
        "connect_timeout": max(2, math.ceil(settings.db_connect_timeout_seconds)),
        "tcp_user_timeout": int(settings.db_command_timeout_seconds * 1000),
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 3,
    }
    if settings.db_require_tls:
        # verified (chain and host name): RDS Proxy presents a public ACM certificate, Aurora
        # itself (no proxy: CostProfile=economy) the RDS CAs' from the bundle given
        args["sslmode"] = "verify-full"
        args["sslrootcert"] = _trust_store(settings)
    return args


def _trust_store(settings: Settings) -> str:
    """The bundle given, else the system's. libpq's "system" store is the one its own OpenSSL
    was built with, which a wheel's bundled OpenSSL may not find on Lambda: Python's CA file is
    used when it exists."""
    if settings.db_tls_ca_file is not None:
        return str(settings.db_tls_ca_file)
    cafile = ssl.get_default_verify_paths().cafile
    return cafile if cafile and os.path.exists(cafile) else "system"


def _connector(password: Callable[[], str] | None) -> Callable[..., Any]:
    """The pool's `do_connect`: a fresh IAM token per physical connection, and socket errors as
    the driver's OperationalError."""

    def connect(
        dialect: Dialect, _record: object, cargs: tuple[Any, ...], cparams: dict[str, Any]
    ) -> Any:
        if password is not None:
            # RDS IAM tokens live 15 minutes: each new connection signs its own (no network call)
            cparams["password"] = password()
        try:
            return dialect.connect(*cargs, **cparams)
        except OSError as error:
            # SQLAlchemy wraps only DBAPI errors: a bare OSError from name resolution or the
            # socket would reach the error middleware as an unknown crash (a 500) instead of
            # "the database cannot be reached" (a 503 the client can retry)
            operational_error = dialect.loaded_dbapi.OperationalError
            raise operational_error(f"cannot connect: {type(error).__name__}: {error}") from error

    return connect


def _closed_by_the_server(dbapi_connection: Any) -> bool:
    """Whether a pooled connection is already known dead, found without a round trip.

    An idle connection has nothing to read. The server's end of it (a restart, a failover,
    RDS Proxy's idle timeout, pg_terminate_backend) arrives as its FATAL message and then EOF:
    either makes the socket readable. Polling the socket costs a system call, not a network hop.
    """
    connection = dbapi_connection.driver_connection  # the psycopg AsyncConnection
    if connection.closed:
        return True
    try:
        fileno = connection.pgconn.socket
    except Exception:  # libpq has no socket left: the connection is gone
        return True
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def _refuse_connections_the_server_closed(
    dbapi_connection: Any, _record: object, _proxy: object
) -> None:
    """Pool checkout, instead of a pre-ping (a round trip on every checkout).

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
        connect_args=driver_connect_args(settings),
        # a failed statement must never print its parameters (hashes, emails) into a log or error
        hide_parameters=True,
        **pool_args,
    )
    password = iam_token_provider(settings) if settings.db_auth == "iam" else None
    event.listen(engine.sync_engine, "do_connect", _connector(password))
    event.listen(engine.sync_engine, "checkout", _refuse_connections_the_server_closed)
    return engine


class Database:
    """Owns one engine and its session factory; nothing connects until first use."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._engine: AsyncEngine | None = None
        self._sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self._autocommit_sessionmaker: async_sessionmaker[AsyncSession] | None = None
        # whether the schema has migration 0014's tenant_id columns (authapi.db.tenancy): None
        # until probed; False is probed again after a while (a migration may run meanwhile)
        self.schema_has_tenants: bool | None = None
        self.schema_probed_at = 0.0

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_engine(self._settings)
        return self._engine

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        if self._sessionmaker is None:
            self._sessionmaker = async_sessionmaker(
                self.engine, expire_on_commit=False, sync_session_class=TenantSession
            )
        return self._sessionmaker

    @property
    def autocommit_sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """Sessions whose every statement is its own transaction: no BEGIN, no COMMIT.

        The same pool: psycopg's autocommit is a flag on the client (no round trip), set at
        checkout and reset when the connection goes back.
        """
        if self._autocommit_sessionmaker is None:
            autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self._autocommit_sessionmaker = async_sessionmaker(
                autocommit, expire_on_commit=False, sync_session_class=TenantSession
            )
        return self._autocommit_sessionmaker

    async def dispose(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = None
        self._sessionmaker = None
        self._autocommit_sessionmaker = None
