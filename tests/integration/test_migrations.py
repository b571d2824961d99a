"""Migrations and models agree, and migrating is repeatable."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from authapi.config import Settings
from authapi.db.base import Base
from authapi.db.engine import create_engine
from authapi.migrations import head_revisions, upgrade_to_head

pytestmark = pytest.mark.integration


@pytest.mark.head_schema  # the models describe the newest schema
async def test_models_match_the_migrated_schema(settings: Settings) -> None:
    import authapi.models  # noqa: F401

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()


async def test_upgrading_again_is_a_no_op(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        applied = await upgrade_to_head(engine, role_prefix=settings.db_role_prefix)
        assert applied == head_revisions()
    finally:
        await engine.dispose()
