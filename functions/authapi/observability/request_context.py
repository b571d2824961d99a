"""The request being served, as every log line written while serving it may name it."""

from __future__ import annotations

from contextvars import ContextVar

# a ContextVar rather than a global: uvicorn serves many requests at once on one event loop
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)

# the trusted client address of that request (authapi.client_address), for security log lines
current_client_ip: ContextVar[str | None] = ContextVar("current_client_ip", default=None)

# the request's raw ASGI headers, kept by reference (nothing parsed per request): an audit row
# reads the User-Agent only when a flow records one
current_headers: ContextVar[list[tuple[bytes, bytes]] | None] = ContextVar(
    "current_headers", default=None
)


def current_user_agent() -> str | None:
    for name, value in current_headers.get() or ():
        if name == b"user-agent":
            return value.decode("latin-1")
    return None
