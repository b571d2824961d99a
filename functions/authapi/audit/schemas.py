"""The public shape of an audit event (GET /api/v1/auth/me/events, GET /api/v1/admin/events)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from authapi.audit.events import ActorKind
from authapi.audit.reader import EventPage, EventRow


class ActorOut(BaseModel):
    kind: Literal["user", "admin", "service"]
    id: uuid.UUID | None = Field(
        default=None,
        description="The account that acted (the user, an admin); none for the service, and "
        "an admin's id is not shown to the user they acted on.",
    )


class EventOut(BaseModel):
    id: uuid.UUID = Field(description="The event's id, also its id on EventBridge.")
    type: str = Field(description="`<subject>.<what happened>`, e.g. `login.succeeded`.")
    occurred_at: datetime
    user_id: uuid.UUID | None = Field(default=None, description="The account it is about.")
    actor: ActorOut
    session_id: uuid.UUID | None = None
    client_id: str | None = None
    ip: str | None = Field(default=None, description="The client's address, as the API saw it.")
    user_agent: str | None = None
    request_id: str | None = None
    details: dict[str, Any] = Field(
        default_factory=dict, description="Non-secret facts of the event (a reason, a count)."
    )

    @classmethod
    def of(cls, row: EventRow, *, show_admin_ids: bool = True) -> EventOut:
        hide = row.actor_kind == ActorKind.ADMIN.value and not show_admin_ids
        return cls(
            id=row.id,
            type=row.type,
            occurred_at=row.occurred_at,
            user_id=row.user_id,
            actor=ActorOut.model_validate(
                {"kind": row.actor_kind, "id": None if hide else row.actor_id}
            ),
            session_id=row.session_id,
            client_id=row.client_id,
            # an admin's address, browser and request id identify the operator as much as
            # their id: the user sees that an administrator acted, not who or from where
            ip=None if hide else row.ip,
            user_agent=None if hide else row.user_agent,
            request_id=None if hide else row.request_id,
            details=dict(row.details or {}),
        )


class EventsOut(BaseModel):
    events: list[EventOut]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next (older) page; none: no more."
    )

    @classmethod
    def of(cls, page: EventPage, *, show_admin_ids: bool = True) -> EventsOut:
        return cls(
            events=[EventOut.of(row, show_admin_ids=show_admin_ids) for row in page.events],
            next_cursor=page.next_cursor,
        )
