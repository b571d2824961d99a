"""The unit of work: commit on success, roll back on error, keep writes when an error says so."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from authapi.config import Settings
from authapi.db.engine import Database
from authapi.db.session import async_session_scope, default_database, unit_of_work
from authapi.exceptions import EmailTakenError, RefreshTokenReusedError
from authapi.models import User

pytestmark = pytest.mark.integration


def _user() -> User:
    return User(id=uuid.uuid4(), email=f"{uuid.uuid4().hex}@example.com", password_hash="x")


async def _exists(database: Database, user: User) -> bool:
    async with unit_of_work(database) as db:
        return bool(await db.scalar(select(func.count()).where(User.id == user.id)))


@pytest.fixture
async def database(settings: Settings):  # type: ignore[no-untyped-def]
    db = Database(settings)
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


async def test_errors_that_keep_writes_commit_them(database: Database) -> None:
    user = _user()
    with pytest.raises(RefreshTokenReusedError):
        await _write_then_raise(database, [user], RefreshTokenReusedError())
    assert await _exists(database, user)


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
