"""The unit of work: commit on success, roll back on any error; independent writes stand."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from authapi.config import Settings
from authapi.db.engine import Database
from authapi.db.session import (
    async_session_scope,
    default_database,
    independent_write,
    request_session,
    unit_of_work,
)
from authapi.exceptions import EmailTakenError, RefreshTokenReusedError
from authapi.models import User

pytestmark = pytest.mark.integration


def _user() -> User:
    return User(id=uuid.uuid4(), email=f"{uuid.uuid4().hex}@example.com", password_hash="x")


async def _id_exists(database: Database, user_id: uuid.UUID) -> bool:
    async with unit_of_work(database) as db:
        return bool(await db.scalar(select(func.count()).where(User.id == user_id)))


async def _exists(database: Database, user: User) -> bool:
    return await _id_exists(database, user.id)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    # the session's pool of one, and a short wait: a second checkout would fail, not hang
    db = Database(settings.model_copy(update={"db_pool_timeout_seconds": 2}))
    yield db
    await db.dispose()


async def test_success_commits(database: Database) -> None:
    user = _user()
    async with unit_of_work(database) as db:
        db.add(user)
    assert await _exists(database, user)


async def _write_then_raise(database: Database, users: list[User], error: BaseException) -> None:
    async with unit_of_work(database) as db:
        for user in users:
            db.add(user)
            await db.flush()  # each row really reaches the database before the error
        raise error


async def test_an_error_rolls_everything_back(database: Database) -> None:
    first, second = _user(), _user()
    with pytest.raises(EmailTakenError):
        await _write_then_raise(database, [first, second], EmailTakenError())
    assert not await _exists(database, first)
    assert not await _exists(database, second)


async def test_an_unexpected_error_rolls_back(database: Database) -> None:
    user = _user()
    with pytest.raises(ZeroDivisionError):
        await _write_then_raise(database, [user], ZeroDivisionError())
    assert not await _exists(database, user)


async def _independent_write_then_raise(
    database: Database, kept: list[User], undone: list[User], error: BaseException
) -> None:
    async with unit_of_work(database) as db:
        async with independent_write(db):
            db.add_all(kept)
            await db.flush()
        db.add_all(undone)
        await db.flush()
        raise error


async def test_an_independent_write_stands_when_the_request_then_fails(database: Database) -> None:
    kept, undone = _user(), _user()
    expected = [kept.id, undone.id]  # the instances expire with the rollback

    with pytest.raises(RefreshTokenReusedError):
        await _independent_write_then_raise(database, [kept], [undone], RefreshTokenReusedError())

    # committed on the request's one connection: with a pool of one, a second checkout would fail
    assert [await _id_exists(database, user_id) for user_id in expected] == [True, False]


async def test_an_error_inside_an_independent_write_keeps_nothing(database: Database) -> None:
    user = _user()
    user_id = user.id

    async def fail_inside() -> None:
        async with unit_of_work(database) as db, independent_write(db):
            db.add(user)
            await db.flush()
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await fail_inside()
    assert not await _id_exists(database, user_id)


async def _insert_twice(database: Database, first: User, second: User) -> None:
    async with request_session(database) as db:
        for user in (first, second):
            await db.execute(insert(User).values(id=user.id, email=user.email, password_hash="x"))


async def test_a_request_session_keeps_each_statement_and_a_failed_one_writes_nothing(
    database: Database,
) -> None:
    kept, duplicate = _user(), _user()
    duplicate.id = kept.id  # the second insert violates the primary key

    with pytest.raises(IntegrityError):
        await _insert_twice(database, kept, duplicate)

    # autocommit: the first statement stands whatever happens next (no BEGIN/COMMIT; a
    # request's writes are each one statement, tests/integration/test_request_budget.py)
    assert await _id_exists(database, kept.id)
    assert not await _email_exists(database, duplicate.email)


async def _email_exists(database: Database, email: str) -> bool:
    async with unit_of_work(database) as db:
        return bool(await db.scalar(select(func.count()).where(User.email == email)))


async def test_async_session_scope_uses_the_process_settings(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert settings.database_url is not None
    monkeypatch.setenv("AUTHAPI_DATABASE_URL", settings.database_url.get_secret_value())
    monkeypatch.setenv("AUTHAPI_ENVIRONMENT", "test")
    from authapi.config import get_settings

    get_settings.cache_clear()
    default_database.cache_clear()
    user = _user()
    try:
        async with async_session_scope() as db:
            db.add(user)
        async with async_session_scope() as db:
            assert await db.get(User, user.id) is not None
    finally:
        await default_database().dispose()
        default_database.cache_clear()
        get_settings.cache_clear()
