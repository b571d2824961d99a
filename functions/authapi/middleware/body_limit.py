"""Refuses request bodies over the configured size with 413, before the app reads any of them."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authapi.exceptions import PayloadTooLargeError
from authapi.middleware.base import HttpMiddleware
from authapi.problems import problem_response


class BodyLimitMiddleware(HttpMiddleware):
    """Reads the whole (small) body up front, so an oversized one is refused cleanly.

    Checking as the app reads would surface inside FastAPI's body parsing, which turns any error
    there into a 400; buffering at most `max_bytes` keeps the answer a clear 413.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int):
        super().__init__(app)
        self.max_bytes = max_bytes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return

        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break

        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLargeError(f"Request bodies are limited to {self.max_bytes} bytes.")
        await problem_response(error, path=scope.get("path"))(scope, receive, send)
