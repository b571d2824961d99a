"""The unit of work: one session and one transaction, committed on success, rolled back on error.

Services flush but never commit. The one exception is `independent_write`, for writes that must
stand even when the request then fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from authapi.config import get_settings
from authapi.db.engine import Database


@asynccontextmanager
async def unit_of_work(database: Database) -> AsyncIterator[AsyncSession]:
    """Commit on success, roll back on any error: an error never decides what is kept."""
    async with database.sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


@asynccontextmanager
async def independent_write(db: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Writes made inside stand whatever the request does next: `async with independent_write(db):`

    For what an attacker must not undo by making the request fail: a rate-limit hit, a failed-login
    count, the revocation of a reused token's session. It commits on the request's own connection
    (in Lambda the pool holds one; a second checkout would wait for it) and the unit of work goes
    on in a fresh transaction. The commit also keeps what the request wrote before the block, so
    open it before the request's own writes. An error inside the block commits nothing.
    """
    yield db
    await db.commit()


@lru_cache(maxsize=1)
def default_database() -> Database:
    """The process-wide database for code that runs outside a request."""
    return Database(get_settings())


def async_session_scope() -> AbstractAsyncContextManager[AsyncSession]:
    """A unit of work for background work and scripts: `async with async_session_scope() as db:`."""
    return unit_of_work(default_database())
