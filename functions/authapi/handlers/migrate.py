"""Lambda entry point that migrates the database: `authapi.handlers.migrate.handler`.

Invoke it once after each deploy (see the README); it applies every pending Alembic migration
in one transaction and returns the revisions the database is at.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from authapi.config import get_settings
from authapi.db.engine import create_engine
from authapi.migrations import upgrade_to_head
from authapi.observability.logs import configure_logging

settings = get_settings()
logger = configure_logging(settings)


async def _migrate() -> tuple[str, ...]:
    engine = create_engine(settings)
    try:
        return await upgrade_to_head(engine)
    finally:
        await engine.dispose()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # a one-shot job with its own engine, so a fresh event loop per invocation is right here
    revisions = asyncio.run(_migrate())
    logger.info("database migrated", extra={"revisions": list(revisions)})
    return {"revisions": list(revisions)}
