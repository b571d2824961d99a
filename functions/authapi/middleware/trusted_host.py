"""Refuses requests for a host we do not serve, as problem+json: a forged Host header must not
reach anything that builds a URL from it.

Starlette's own middleware answers these in text/plain (the API's contract is problem+json) and
redirects `example.com` to `www.example.com` when only the latter is listed; this one just refuses.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from authapi.exceptions import InvalidHostError
from authapi.middleware.base import HttpMiddleware
from authapi.problems import problem_response


def host_name(host_header: str) -> str:
    """The name in a Host header, without its port; an IPv6 literal keeps its brackets."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0]


def host_allowed(host: str, patterns: Sequence[str]) -> bool:
    """`*` allows any host; `*.example.com` any name under example.com (not example.com itself)."""
    for pattern in patterns:
        pattern = pattern.lower()
        if pattern == "*" or host == pattern:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


class TrustedHostMiddleware(HttpMiddleware):
    def __init__(self, app: ASGIApp, *, allowed_hosts: Sequence[str]):
        super().__init__(app)
        self.allowed_hosts = tuple(allowed_hosts)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        host = host_name(Headers(scope=scope).get("host", ""))
        if host and host_allowed(host, self.allowed_hosts):
            await self.app(scope, receive, send)
            return
        await problem_response(InvalidHostError(), path=scope.get("path"))(scope, receive, send)
