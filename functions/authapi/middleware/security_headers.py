"""Headers every answer carries: `X-Content-Type-Options: nosniff`, and `Cache-Control:
no-store` unless the route chose its own caching (the JWKS does). An auth API's answers are
about one caller (their account, their tokens, their errors): no cache may keep them.

Applied by `authapi.middleware.front` to every response start."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders


def add_security_headers(headers: MutableHeaders) -> None:
    headers["x-content-type-options"] = "nosniff"
    if "cache-control" not in headers:
        headers["cache-control"] = "no-store"
