"""Starlette's GZip, looked at only for answers that could be compressed.

Starlette's middleware parses every answer's headers (its content type, its encoding) the
moment the answer starts, whether the client accepts gzip or not, and nearly every answer of an
auth API is a small JSON body that it then sends unchanged: about 10 us of a warm request. Here
the start is held until the first body: a complete body below the minimum size is sent exactly
as Starlette would send it (unchanged: no encoding, no `Vary`); anything else (a larger body, a
stream, any other message) goes through Starlette's own responder, from the start message on,
so what it sends is Starlette's answer to the letter.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.types import Message, Receive, Scope, Send


class SmallAnswerGZipMiddleware(GZipMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        responder: IdentityResponder | None = None

        async def send_when_decided(message: Message) -> None:
            nonlocal start, responder
            if responder is not None:
                await responder.send_with_compression(message)
                return
            if message["type"] == "http.response.start" and start is None:
                start = message  # held: what follows decides
                return
            if (
                start is not None
                and message["type"] == "http.response.body"
                and not message.get("more_body", False)
                and len(message.get("body", b"")) < self.minimum_size
            ):
                # what either of Starlette's responders sends for a small complete body
                held, start = start, None
                await send(held)
                await send(message)
                return
            responder = self._responder(scope)
            responder.send = send
            if start is not None:
                await responder.send_with_compression(start)
                start = None
            await responder.send_with_compression(message)

        await self.app(scope, receive, send_when_decided)

    def _responder(self, scope: Scope) -> IdentityResponder:
        """The responder Starlette's own middleware would have chosen for this request."""
        accepted = b""
        for name, value in scope["headers"]:
            if name == b"accept-encoding":
                accepted = value
                break
        if b"gzip" in accepted:
            return GZipResponder(
                self.app,
                self.minimum_size,
                compresslevel=self.compresslevel,
                thread_minimum_size=self.thread_minimum_size,
                exclude_content_types=self.exclude_content_types,
            )
        return IdentityResponder(
            self.app, self.minimum_size, exclude_content_types=self.exclude_content_types
        )
