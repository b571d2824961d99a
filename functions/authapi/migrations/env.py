"""Alembic environment. Runs on a connection handed over by `upgrade_to_head`, or, from the
`alembic` command line, on an async engine built from the service's own settings."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection

import authapi.models  # noqa: F401  (registers every table on the metadata)
from authapi.config import get_settings
from authapi.db.base import Base
from authapi.db.engine import create_engine

target_metadata = Base.metadata


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_with_own_engine() -> None:
    engine = create_engine(get_settings())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")

# the `alembic` command line passes no prefix: the service's settings say which roles it runs as
context.config.attributes.setdefault("role_prefix", get_settings().db_role_prefix)
shared_connection = context.config.attributes.get("connection")
if shared_connection is not None:
    run_on(shared_connection)
else:
    asyncio.run(run_with_own_engine())
