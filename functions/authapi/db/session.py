"""Units of work: a request's session, and one transaction for scripts and background work.

A request's writes are each one atomic statement (a data-modifying CTE where a flow writes
several rows), so a request runs its statements in autocommit (`request_session`): a
transaction around a single statement only adds BEGIN and COMMIT, two round trips. Work that
needs several statements to stand or fall together (maintenance, the account scripts) runs in
one transaction (`unit_of_work`). Services never commit. The one exception is
`independent_write`, for writes that must stand even when the request then fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import lru_cache

from sqlalchemy.ext.asyncio import AsyncSession

from authapi.config import get_settings
from authapi.db.engine import Database
from authapi.db.tenancy import scope_schema


@asynccontextmanager
async def unit_of_work(database: Database) -> AsyncIterator[AsyncSession]:
    """Commit on success, roll back on any error: an error never decides what is kept."""
    async with database.sessionmaker() as session:
        try:
            await scope_schema(database, session)
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


@asynccontextmanager
async def request_session(database: Database) -> AsyncIterator[AsyncSession]:
    """A request's session: each statement commits (or fails) on its own, all or nothing.

    A flow must therefore never spread one write over two statements: fold it into one. An
    error after a statement does not undo it, which is what the request's independent writes
    (a rate-limit hit, a counted login attempt) need anyway.
    """
    async with database.autocommit_sessionmaker() as session:
        await scope_schema(database, session)
        yield session


@asynccontextmanager
async def independent_write(db: AsyncSession) -> AsyncIterator[AsyncSession]:
    """Writes made inside stand whatever the request does next: `async with independent_write(db):`

    For what an attacker must not undo by making the request fail: a rate-limit hit, a failed-login
    count, the revocation of a reused token's session. It commits on the request's own connection
    (in Lambda the pool holds one; a second checkout would wait for it) and the unit of work goes
    on in a fresh transaction. The commit also keeps what the request wrote before the block, so
    open it before the request's own writes. An error inside the block commits nothing. In a
    request's autocommit session (`request_session`) its one statement has committed already
    and the commit costs no round trip; the block still says which writes must stand.
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
