"""Every request's id: API Gateway's, else a plain one the client sent, else a new one.

`authapi.middleware.front` echoes it as `X-Request-ID` and makes it visible to logging."""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.types import Scope

HEADER = "x-request-id"
# A client-chosen id is echoed into logs and headers: only a short, plain token is safe to trust.
# '=', '+' and '/' appear in API Gateway's own (base64) request ids.
_VALID_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:=+/-]{0,127}$")
# API Gateway's own ids are base64 and may start with any of its characters ('+', '/'): they come
# from the front door, not the client, so only their shape is checked
_GATEWAY_ID = re.compile(r"^[A-Za-z0-9._:=+/-]{1,128}$")


def _gateway_request_id(scope: Scope) -> str | None:
    """In Lambda (Mangum puts the event in the scope), the id the logs are correlated by:
    API Gateway's or the function URL's request id, or an ALB's trace header."""
    event: Any = scope.get("aws.event")
    if not isinstance(event, dict):
        return None
    request_context = event.get("requestContext") or {}
    headers = event.get("headers") or {}
    for value in (request_context.get("requestId"), headers.get("x-amzn-trace-id")):
        if isinstance(value, str) and _GATEWAY_ID.match(value):
            return value
    return None


def _client_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == HEADER.encode():
            decoded = value.decode("latin-1")
            return decoded if _VALID_ID.match(decoded) else None
    return None


def request_id_for(scope: Scope) -> str:
    return _gateway_request_id(scope) or _client_request_id(scope) or uuid.uuid4().hex
