"""One log line per request: method, path, status and duration; the logging filter adds the
request id. The query string is left out: it is where clients put secrets they should not."""

from __future__ import annotations

import logging
import time

from starlette.types import Message, Receive, Scope, Send

from authapi.client_address import client_ip
from authapi.middleware.base import HttpMiddleware
from authapi.observability.request_context import current_client_ip, current_headers

logger = logging.getLogger("authapi.access")


class AccessLogMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # if the app dies before answering, the server answers 500
        address = client_ip(scope)
        # security log lines of this request name the same address as its access line
        current_client_ip.set(address)
        current_headers.set(scope["headers"])

        async def capture_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture_status)
        finally:
            logger.info(
                "request completed",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    "client_ip": address,
                },
            )
