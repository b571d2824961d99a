"""The trusted client address: who is calling, by what our own front door saw, never by what the
caller claims. Rate limits, logs and (later) sessions and audit all ask this one function.

X-Forwarded-For is written by the client unless a proxy we trust overwrites it, so it is only
read where such a proxy is known to sit: behind an ALB, whose own entry is the last one.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Scope

UNKNOWN = "unknown"


def client_ip(scope: Scope) -> str:
    event: Any = scope.get("aws.event")
    if isinstance(event, dict):
        request_context = event.get("requestContext") or {}
        http = request_context.get("http")  # HTTP API (payload 2.0) and function URLs
        if isinstance(http, dict) and http.get("sourceIp"):
            return str(http["sourceIp"])
        identity = request_context.get("identity")  # REST API (payload 1.0)
        if isinstance(identity, dict) and identity.get("sourceIp"):
            return str(identity["sourceIp"])
        if "elb" in request_context:
            forwarded = str((event.get("headers") or {}).get("x-forwarded-for", ""))
            last = forwarded.rsplit(",", 1)[-1].strip()
            return last or UNKNOWN
    client = scope.get("client")
    return str(client[0]) if client else UNKNOWN
