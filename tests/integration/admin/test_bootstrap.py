"""The first administrator (issue 17): `make admin-create EMAIL=` (devtools/admins.py) and the
migrate function's `{"admin_create": "<email>"}` event, each recording admin.role_granted."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from datetime import UTC, datetime
from types import ModuleType
from typing import Any

import pytest

from authapi.config import get_settings
from devtools import admins
from devtools.lambda_events import lambda_context
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.db import ScratchDatabase

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]


def _account(database: ScratchDatabase, email: str) -> uuid.UUID:
    user_id = uuid.uuid4()
    asyncio.run(
        database.execute(
            "INSERT INTO users (id, email, password_hash, created_at, updated_at) "
            "VALUES ($1, $2, 'not a hash', $3, $3)",
            user_id,
            email,
            datetime.now(UTC),
        )
    )
    return user_id


def _role_and_grants(database: ScratchDatabase, email: str) -> tuple[str | None, list[Any]]:
    async def read() -> tuple[str | None, list[Any]]:
        role = await database.fetchval("SELECT role FROM users WHERE email = $1", email)
        rows = await database.fetch(
            "SELECT a.actor_kind, a.actor_id FROM audit_events a JOIN users u ON u.id = a.user_id "
            "WHERE u.email = $1 AND a.type = 'admin.role_granted'",
            email,
        )
        return role, rows

    return asyncio.run(read())


def _migrate_handler(monkeypatch: pytest.MonkeyPatch, database: ScratchDatabase) -> ModuleType:
    monkeypatch.setenv("AUTHAPI_ENVIRONMENT", "test")
    monkeypatch.setenv("AUTHAPI_DATABASE_URL", database.direct_url or database.url)
    monkeypatch.setenv("AUTHAPI_DB_ROLE_PREFIX", database.role_prefix)
    get_settings.cache_clear()
    import authapi.handlers.migrate as module

    return importlib.reload(module)


def test_the_migrate_function_grants_the_role_to_an_existing_account(
    monkeypatch: pytest.MonkeyPatch, test_database: ScratchDatabase
) -> None:
    email = unique_email()
    _account(test_database, email)
    migrate = _migrate_handler(monkeypatch, test_database)
    try:
        answer = migrate.handler({"admin_create": email.upper()}, lambda_context())
        missing = migrate.handler({"admin_create": unique_email()}, lambda_context())
    finally:
        get_settings.cache_clear()
    assert (answer["status"], answer["admin_create"]) == ("Succeeded", "granted")
    assert (missing["status"], missing["admin_create"]) == ("Failed", "no_account")
    role, grants = _role_and_grants(test_database, email)
    assert role == "admin"
    assert [(row["actor_kind"], row["actor_id"]) for row in grants] == [("service", None)]


def test_admin_create_grants_or_creates_the_account(
    monkeypatch: pytest.MonkeyPatch,
    test_database: ScratchDatabase,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AUTHAPI_DATABASE_URL", test_database.url)
    existing = unique_email()
    _account(test_database, existing)
    asked: list[str] = []

    def password() -> str:
        asked.append("asked")
        return STRONG_PASSWORD

    assert admins.main([existing], password=password) == 0
    assert asked == []  # an existing account keeps its password
    assert f"{existing}: granted the admin role" in capsys.readouterr().out
    assert _role_and_grants(test_database, existing)[0] == "admin"

    new = unique_email()
    assert admins.main([new], password=password) == 0
    assert asked == ["asked"]
    assert f"{new}: account created with the admin role" in capsys.readouterr().out
    role, grants = _role_and_grants(test_database, new)
    assert role == "admin"
    assert len(grants) == 1

    weak = unique_email()
    assert admins.main([weak], password=lambda: "short") == 1
    assert _role_and_grants(test_database, weak)[0] is None
