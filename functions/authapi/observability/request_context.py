"""The id of the request being served, visible to every log line written while serving it."""

from __future__ import annotations

from contextvars import ContextVar

# a ContextVar rather than a global: uvicorn serves many requests at once on one event loop
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)
