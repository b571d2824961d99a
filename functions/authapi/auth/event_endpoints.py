"""GET /api/v1/auth/me/events: the signed-in user's own security history (issue 17)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from authapi.audit import reader
from authapi.audit.schemas import EventsOut
from authapi.auth.dependencies import CurrentPrincipal
from authapi.auth.endpoints import BEARER_ERRORS
from authapi.exceptions import InvalidCursorError
from authapi.problems import problem_responses
from authapi.resources import DbSession

router = APIRouter(prefix="/api/v1/auth", tags=["account"])


@router.get("/me/events", responses=problem_responses(*BEARER_ERRORS, InvalidCursorError))
async def my_events(
    principal: CurrentPrincipal,
    db: DbSession,
    type: Annotated[list[str] | None, Query(description="Only these event types.")] = None,
    since: Annotated[datetime | None, Query(description="Occurred at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Occurred before.")] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=reader.MAX_PAGE)] = 50,
) -> EventsOut:
    """The caller's own security events (sign-ins, changes, admin actions), newest first."""
    filters = reader.EventFilter(
        user_id=principal.user.id, types=tuple(type or ()), since=since, until=until
    )
    page = await reader.list_events(db, filters=filters, cursor=cursor, limit=limit)
    # an administrator's identity is theirs: the user sees that an admin acted, not which one
    return EventsOut.of(page, show_admin_ids=False)
