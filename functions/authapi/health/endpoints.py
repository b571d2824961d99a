"""GET /health: is the service up, and can it reach its database."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from authapi.db.engine import Database
from authapi.resources import DatabaseDep

logger = logging.getLogger(__name__)
router = APIRouter(tags=["health"])

DATABASE_CHECK_TIMEOUT_SECONDS = 2.0


async def _database_reachable(database: Database) -> bool:
    try:
        async with asyncio.timeout(DATABASE_CHECK_TIMEOUT_SECONDS):
            async with database.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "not reachable"; the log line says which
        logger.warning("health check: database unreachable", extra={"error": type(error).__name__})
        return False
    return True


@router.get(
    "/health",
    responses={503: {"description": "The database cannot be reached."}},
)
async def health(database: DatabaseDep) -> JSONResponse:
    """Report whether the service and its database are reachable."""
    if await _database_reachable(database):
        return JSONResponse({"status": "ok", "database": "ok"})
    return JSONResponse(
        {"status": "unavailable", "database": "unavailable"},
        status_code=503,
        headers={"Cache-Control": "no-store", "Retry-After": "5"},
    )
