"""The request being served, as every log line written while serving it may name it."""

from __future__ import annotations

from contextvars import ContextVar

# a ContextVar rather than a global: uvicorn serves many requests at once on one event loop
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

# the trusted client address of that request (authapi.client_address), for security log lines
current_client_ip: ContextVar[str | None] = ContextVar("current_client_ip", default=None)
