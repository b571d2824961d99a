"""The unit of work, in its two forms: a request dependency and a context manager for scripts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from authapi.config import get_settings
from authapi.db.engine import Database
from authapi.exceptions import AuthApiError


@asynccontextmanager
async def unit_of_work(database: Database) -> AsyncIterator[AsyncSession]:
    """Commit on success, roll back on error; services flush but never commit."""
    async with database.sessionmaker() as session:
        try:
            yield session
        except AuthApiError as error:
            if error.keeps_writes:
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


@lru_cache(maxsize=1)
def default_database() -> Database:
    """The process-wide database for code that runs outside a request."""
    return Database(get_settings())


def async_session_scope() -> AbstractAsyncContextManager[AsyncSession]:
    """A unit of work for background work and scripts: `async with async_session_scope() as db:`."""
    return unit_of_work(default_database())
