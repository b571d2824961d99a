"""The front of the app: what every request passes through first, in one pure ASGI layer.

Six concerns, each in its own module, run here in the order they had as separate layers
(outermost first): the edge origin (`edge_origin`: the viewer's address decided and the secret
header gone before anything runs), the deprecation and security headers (`deprecation`,
`security_headers`), the request id (`request_id`), the access line (`access_log`) and the last
line of defence (`errors`). One layer instead of six: one coroutine and one wrapped `send` per
request instead of six of each, and the response's headers parsed once for all of them.

Every answer, the error's problem+json included, gets the same headers; the access line names
the status that was sent, and is written with the request id still set.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from authapi.client_address import client_ip
from authapi.middleware.access_log import log_request
from authapi.middleware.deprecation import HeadersByPath, add_deprecation_headers
from authapi.middleware.edge_origin import EdgeOrigin, OriginSecret
from authapi.middleware.errors import unhandled_problem
from authapi.middleware.request_id import HEADER as REQUEST_ID_HEADER
from authapi.middleware.request_id import request_id_for
from authapi.middleware.security_headers import add_security_headers
from authapi.observability.request_context import (
    current_client_ip,
    current_headers,
    current_request_id,
)
from authapi.problems import problem_response


class FrontMiddleware:
    def __init__(
        self, app: ASGIApp, *, origin_secret: OriginSecret, deprecated_paths: HeadersByPath
    ) -> None:
        self.app = app
        self.edge = EdgeOrigin(origin_secret)
        self.deprecated_paths = deprecated_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and websockets go straight through
            await self.app(scope, receive, send)
            return
        await self.edge.admit(scope)
        deprecation: Mapping[str, str] | None = self.deprecated_paths.get(scope["path"])
        request_id = request_id_for(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = current_request_id.set(request_id)
        started = time.perf_counter()
        status = 500  # if the app dies before answering, the server answers 500
        response_started = False
        address = client_ip(scope)
        # security log lines of this request name the same address as its access line
        current_client_ip.set(address)
        current_headers.set(scope["headers"])

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                add_security_headers(headers)
                if deprecation is not None:
                    add_deprecation_headers(headers, deprecation)
            await send(message)

        try:
            try:
                await self.app(scope, receive, send_with_headers)
            except Exception as error:
                problem = unhandled_problem(error)
                # once the headers are gone the client sees a cut response; the log has the cause
                if not response_started:
                    response = problem_response(problem, path=scope.get("path"))
                    await response(scope, receive, send_with_headers)
        finally:
            log_request(scope, status=status, started=started, client_ip=address)
            current_request_id.reset(token)
