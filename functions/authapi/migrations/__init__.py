"""Alembic migrations, shipped inside the package so Lambda and tests migrate the same way."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # dated file names sort in the order they were written
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revisions() -> tuple[str, ...]:
    return tuple(ScriptDirectory.from_config(alembic_config()).get_heads())


async def upgrade_to_head(engine: AsyncEngine) -> tuple[str, ...]:
    """Apply every pending migration in one transaction; return the revisions now applied."""

    def upgrade(connection: Connection) -> tuple[str, ...]:
        command.upgrade(alembic_config(connection), "head")
        return tuple(MigrationContext.configure(connection).get_current_heads())

    async with engine.begin() as connection:
        return await connection.run_sync(upgrade)
