"""Alembic migrations, shipped inside the package so Lambda and tests migrate the same way."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from authapi.migrations.roles import app_grants_sql

MIGRATIONS_DIR = Path(__file__).resolve().parent
DEFAULT_ROLE_PREFIX = "authapi"
# any constant, the same for every run: two migrations of one database never interleave (a retried
# hook, an operator's manual run) - the second waits, then finds nothing left to do
_MIGRATION_LOCK_KEY = 0x61757468617069  # "authapi"


def alembic_config(
    connection: Connection | None = None, *, role_prefix: str = DEFAULT_ROLE_PREFIX
) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # dated file names sort in the order they were written
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    config.attributes["role_prefix"] = role_prefix
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revisions() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


async def upgrade_to_head(
    engine: AsyncEngine, *, role_prefix: str = DEFAULT_ROLE_PREFIX
) -> tuple[str, ...]:
    """Apply every pending migration in one transaction; return the revisions now applied.

    Then grant the app role its rights on every table, new ones included; nothing else does.
    """
    return await upgrade_to(engine, "head", role_prefix=role_prefix)


# The schema the release before this one runs on. A release may bring several migrations (this
# one: 0008 onwards); its code serves this schema until the deploy's hook has migrated. Move it
# forward when a release ships.
PREVIOUS_RELEASE_REVISION = "0007"


def previous_revision() -> str:
    """The schema the previous release ran on (`make test-previous-schema` runs the code there)."""
    script = ScriptDirectory.from_config(alembic_config())
    script.get_revision(PREVIOUS_RELEASE_REVISION)  # fails loudly if it is not in the chain
    return PREVIOUS_RELEASE_REVISION


async def upgrade_to(
    engine: AsyncEngine, revision: str, *, role_prefix: str = DEFAULT_ROLE_PREFIX
) -> tuple[str, ...]:
    """`upgrade_to_head`, stopping at `revision` (tests run the code on an older schema)."""

    def upgrade(connection: Connection) -> tuple[str, ...]:
        # the roles' statement_timeout (migration 0004) is for requests: a migration may take
        # longer, inside this transaction only
        connection.execute(text("SET LOCAL statement_timeout = 0"))
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
        command.upgrade(alembic_config(connection, role_prefix=role_prefix), revision)
        for grant in app_grants_sql(role_prefix):
            connection.exec_driver_sql(grant)
        return tuple(MigrationContext.configure(connection).get_current_heads())

    async with engine.begin() as connection:
        return await connection.run_sync(upgrade)
