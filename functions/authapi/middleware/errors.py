"""The last line of defence: anything no handler claimed becomes a problem+json response.

A database that cannot be reached is a 503 the client can retry; anything else is a 500 that says
nothing about the internals, logged once with its stack trace and counted as `UnhandledError`.
"""

from __future__ import annotations

import logging

from starlette.types import Message, Receive, Scope, Send

from authapi.exception_handlers import is_database_unavailable, problem_response
from authapi.exceptions import AuthApiError, DatabaseUnavailableError
from authapi.middleware.base import HttpMiddleware
from authapi.observability import metrics

logger = logging.getLogger(__name__)


class ErrorHandlingMiddleware(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if is_database_unavailable(error):
                logger.warning("database unavailable", extra={"error": type(error).__name__})
                problem: AuthApiError = DatabaseUnavailableError()
            else:
                logger.exception("unhandled error")
                metrics.count(metrics.UNHANDLED_ERROR)
                problem = AuthApiError()
            if response_started:
                return  # headers are gone; the client sees a cut response, the log has the cause
            await problem_response(problem)(scope, receive, send)
