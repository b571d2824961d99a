"""Headers every answer carries: `X-Content-Type-Options: nosniff`, and `Cache-Control:
no-store` unless the route chose its own caching (the JWKS does). An auth API's answers are
about one caller (their account, their tokens, their errors): no cache may keep them."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from authapi.middleware.base import HttpMiddleware


class SecurityHeadersMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["x-content-type-options"] = "nosniff"
                if "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
