"""The roles the migrations create: the app's can read and write rows and nothing more, and the
whole API works as it; the migrator's owns the schema."""

from __future__ import annotations

import asyncpg
import pytest
from pydantic import SecretStr

from authapi.config import Settings
from tests.support.accounts import register
from tests.support.db import ScratchDatabase, as_role
from tests.support.http import ClientWith

pytestmark = pytest.mark.integration

SCHEMA_CHANGES = [
    "CREATE TABLE intruder (id int)",
    "ALTER TABLE users ADD COLUMN intruder int",
    "DROP TABLE refresh_tokens",
    "TRUNCATE users",
    "CREATE INDEX intruder ON users (email)",
    "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE SCHEMA intruder",
]


@pytest.mark.parametrize("statement", SCHEMA_CHANGES)
async def test_the_app_role_cannot_change_the_schema(
    test_database: ScratchDatabase, statement: str
) -> None:
    connection = await asyncpg.connect(as_role(test_database, "app"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.execute(statement)
    finally:
        await connection.close()


async def test_the_app_role_never_sees_the_migration_bookkeeping(
    test_database: ScratchDatabase,
) -> None:
    connection = await asyncpg.connect(as_role(test_database, "app"))
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await connection.fetchval("SELECT version_num FROM alembic_version")
    finally:
        await connection.close()


async def test_the_whole_api_works_as_the_app_role(
    test_database: ScratchDatabase, client_with: ClientWith
) -> None:
    app_url = SecretStr(as_role(test_database, "app", driver="postgresql+psycopg"))
    async with client_with(database_url=app_url) as client:
        account = await register(client)
        login = await client.post(
            "/api/auth/login", json={"email": account.email, "password": account.password}
        )
        assert login.status == 200, login
        refreshed = await client.post(
            "/api/auth/refresh-token", json={"refresh_token": login.body["refresh_token"]}
        )
        assert refreshed.status == 200, refreshed
        bearer = {"Authorization": f"Bearer {refreshed.body['access_token']}"}
        assert (await client.get("/api/auth/me", headers=bearer)).status == 200
        assert (await client.post("/api/auth/logout", headers=bearer)).status == 204


async def test_the_migrator_role_owns_the_schema(test_database: ScratchDatabase) -> None:
    connection = await asyncpg.connect(as_role(test_database, "migrator"))
    try:
        async with connection.transaction():
            await connection.execute("CREATE TABLE migrator_may (id int)")
            await connection.execute("DROP TABLE migrator_may")
    finally:
        await connection.close()


def test_the_settings_name_the_roles_of_this_database(
    settings: Settings, test_database: ScratchDatabase
) -> None:
    # each test database has roles of its own: two sessions on one server never share them
    assert settings.db_role_prefix == test_database.role_prefix != "authapi"
