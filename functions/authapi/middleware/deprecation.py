"""Deprecation headers on every answer of a deprecated path (authapi.api_versions): successes,
problems and the answers of the middleware inside this one alike, so a client learns of the
sunset from whatever it gets back."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authapi.middleware.base import HttpMiddleware


class DeprecationHeadersMiddleware(HttpMiddleware):
    def __init__(self, app: ASGIApp, *, headers_by_path: Mapping[str, Mapping[str, str]]) -> None:
        super().__init__(app)
        self.headers_by_path = headers_by_path

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        extra = self.headers_by_path.get(scope["path"])
        if extra is None:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in extra.items():
                    headers.append(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)
