"""What the app holds for its lifetime, and one typed request dependency for each of them.

The composition root (`app.py`) builds a `Resources` and puts it on the app; routes and
dependencies ask for the piece they need (`SettingsDep`, `DbSession`, ...), never for the whole.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, cast

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import HTTPConnection

from authapi.clock import Clock
from authapi.config import Settings
from authapi.db.engine import Database
from authapi.db.session import request_session
from authapi.outbox.notify import OutboxNotifier
from authapi.passwords import PasswordHashing
from authapi.signing.keys import KeyProvider


@dataclass(frozen=True)
class Resources:
    """One per process (one Lambda execution environment); nothing in it connects until used."""

    settings: Settings
    database: Database
    hashing: PasswordHashing
    key_provider: KeyProvider
    clock: Clock
    # the mail queue a flow notifies after the statement that enqueued mail (issue 13)
    outbox_notifier: OutboxNotifier = field(default_factory=lambda: OutboxNotifier(None))

    async def aclose(self) -> None:
        """Release the database's connections (servers with a lifespan, tests and tools)."""
        self.outbox_notifier.close()
        await self.database.dispose()


def app_resources(app: Starlette) -> Resources:
    return cast(Resources, app.state.resources)


def _resources(connection: HTTPConnection) -> Resources:
    return app_resources(connection.app)


# The dependencies are `async def` although nothing in them awaits: FastAPI runs a plain `def`
# dependency in a worker thread, a thread hop per dependency per request for a field read.
async def _settings(connection: HTTPConnection) -> Settings:
    return _resources(connection).settings


async def _database(connection: HTTPConnection) -> Database:
    return _resources(connection).database


async def _hashing(connection: HTTPConnection) -> PasswordHashing:
    return _resources(connection).hashing


async def _key_provider(connection: HTTPConnection) -> KeyProvider:
    return _resources(connection).key_provider


async def _clock(connection: HTTPConnection) -> Clock:
    return _resources(connection).clock


async def _outbox_notifier(connection: HTTPConnection) -> OutboxNotifier:
    return _resources(connection).outbox_notifier


async def _db_session(connection: HTTPConnection) -> AsyncIterator[AsyncSession]:
    async with request_session(_resources(connection).database) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(_settings)]
DatabaseDep = Annotated[Database, Depends(_database)]
HashingDep = Annotated[PasswordHashing, Depends(_hashing)]
KeyProviderDep = Annotated[KeyProvider, Depends(_key_provider)]
ClockDep = Annotated[Clock, Depends(_clock)]
# after a statement that enqueued mail: `await notifier.notify([message.id])` (authapi/outbox)
OutboxNotifierDep = Annotated[OutboxNotifier, Depends(_outbox_notifier)]
# The request's session (autocommit: each statement is its own transaction). scope="function":
# the connection goes back to the pool before the response is sent. Every dependency of one
# request that asks for it shares the one session (and its one connection).
DbSession = Annotated[AsyncSession, Depends(_db_session, scope="function")]
