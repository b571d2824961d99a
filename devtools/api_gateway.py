"""API Gateway's stand-in for the local cloud: an HTTP API (payload format 2.0), its $default
route and any `METHOD /path` route of the template, each with its own integration, optionally
behind a JWT authorizer (devtools.jwt_authorizer).

Any number of connections at once, each on a thread of its own, so a slow or idle client (a
browser on /docs, a kept-alive SDK client) never blocks another. HTTP/1.1 keep-alive, pipelined
requests answered in order, `Connection: close` honoured, HEAD, chunked request bodies read.

Each request becomes the event API Gateway would build, handed to the integration (the API
function's execution environments); what API Gateway answers itself, it answers the same way:
- a body above HTTP API's 10 MB payload quota: 413 `{"message":"Request Entity Too Large"}`;
- Lambda refused the invocation (throttled): 500 `{"message":"Internal Server Error"}`;
- the function failed (an error, a crash, a timeout): 502 with the same body;
- a route's authorizer refused the token: 401 `{"message":"Unauthorized"}`, no invocation.
(AWS Lambda Developer Guide, "Handling Lambda errors with an API Gateway API".)
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

from devtools.execution_environments import InvocationFailed, Throttled
from devtools.lambda_events import http_api_event

PAYLOAD_QUOTA_BYTES = 10 * 1024 * 1024  # HTTP API's quota on a request's payload
# the hop-by-hop headers API Gateway does not pass on to the integration
_NOT_FORWARDED = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade"})
# after refusing a body, read (and drop) what the client still sends for this long, so that our
# answer is not lost to a reset from closing a socket with unread data in it
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 2 * PAYLOAD_QUOTA_BYTES
_CHUNK_LINE_BYTES = 1024


class Integration(Protocol):
    def invoke(self, event: dict[str, Any]) -> dict[str, Any]: ...


class Unauthorized(Exception):
    """An authorizer refused the request: API Gateway answers 401 and invokes nothing."""


class Authorizer(Protocol):
    def claims(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The verified claims for the event, or Unauthorized."""
        ...


@dataclass(frozen=True)
class Route:
    """A `METHOD /path` route: its own integration, behind an authorizer or not."""

    integration: Integration
    authorizer: Authorizer | None = None


class HttpApi(ThreadingHTTPServer):
    """The listening socket; each connection on a daemon thread of its own."""

    # many clients may connect in the same instant (a burst, a browser's parallel fetches): a
    # short backlog would make the kernel drop their SYNs, and the clients retry a second later
    request_queue_size = socket.SOMAXCONN

    def __init__(
        self,
        address: tuple[str, int],
        integration: Integration,
        routes: Mapping[tuple[str, str], Route] | None = None,
    ) -> None:
        super().__init__(address, ApiGatewayStandIn)
        self.integration = integration  # the $default route's
        self.routes = dict(routes or {})  # (method, path) -> Route; the rest go to $default
        self.domain = f"{address[0]}:{self.server_port}"  # what the events name as the domain

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client gone mid-answer is its own business; anything else the handler logs


class _BodyRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ApiGatewayStandIn(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HttpApi

    def handle_expect_100(self) -> bool:
        # refuse an oversized body before the client sends it (curl asks first above 1 MB)
        try:
            self._declared_length()
        except _BodyRefused as refused:
            self._answer_gateway(refused.status, refused.message, linger=True)
            return False
        return super().handle_expect_100()

    def _forward(self) -> None:
        try:
            body = self._read_body()
        except _BodyRefused as refused:
            self._answer_gateway(refused.status, refused.message, linger=True)
            return
        except ConnectionError:
            self.close_connection = True
            return
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            name = name.lower()
            if name not in _NOT_FORWARDED:
                # API Gateway joins repeated headers with commas, as HTTP allows
                headers[name] = f"{headers[name]},{value}" if name in headers else value
        url = urlsplit(self.path)
        event = http_api_event(
            self.command,
            url.path,
            headers=headers,
            body=body,
            query=url.query,
            source_ip=self.client_address[0],
            domain=self.server.domain,
        )
        integration = self.server.integration
        route = self.server.routes.get((self.command, url.path))
        if route is not None:
            integration = route.integration
            event["routeKey"] = event["requestContext"]["routeKey"] = f"{self.command} {url.path}"
            if route.authorizer is not None:
                try:
                    claims = route.authorizer.claims(headers)
                except Unauthorized:
                    self._answer_gateway(401, "Unauthorized")
                    return
                event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        try:
            response = integration.invoke(event)
        except Throttled:
            self._answer_gateway(500, "Internal Server Error")
        except InvocationFailed:
            self._answer_gateway(502, "Internal Server Error")
        else:
            self._write(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _forward

    def _declared_length(self) -> int:
        declared = self.headers.get("content-length")
        if declared is None or "transfer-encoding" in self.headers:
            return 0
        if not declared.strip().isdigit():
            raise _BodyRefused(400, "Bad Request")
        length = int(declared)
        if length > PAYLOAD_QUOTA_BYTES:
            raise _BodyRefused(413, "Request Entity Too Large")
        return length

    def _read_body(self) -> bytes:
        encoding = self.headers.get("transfer-encoding")
        if encoding is not None:
            # chunked must be the last coding (RFC 9112, 6.1); no other is accepted here
            if encoding.replace(" ", "").lower() != "chunked":
                raise _BodyRefused(400, "Bad Request")
            return self._read_chunked()
        length = self._declared_length()
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise ConnectionError("the client went away mid-body")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(_CHUNK_LINE_BYTES)
            if not line:
                raise ConnectionError("the client went away mid-body")
            size_text = line.split(b";", 1)[0].strip()  # chunk extensions are ignored
            try:
                size = int(size_text, 16)
            except ValueError:
                raise _BodyRefused(400, "Bad Request") from None
            if size == 0:
                break
            total += size
            if total > PAYLOAD_QUOTA_BYTES:
                raise _BodyRefused(413, "Request Entity Too Large")
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise ConnectionError("the client went away mid-body")
            chunks.append(chunk)
            if self.rfile.readline(_CHUNK_LINE_BYTES).strip():
                raise _BodyRefused(400, "Bad Request")
        while self.rfile.readline(_CHUNK_LINE_BYTES).strip():
            pass  # trailer fields: API Gateway passes none on
        return b"".join(chunks)

    def _write(self, response: dict[str, Any]) -> None:
        raw = response.get("body") or ""
        body = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
        self.send_response(int(response["statusCode"]))
        for name, value in (response.get("headers") or {}).items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        for cookie in response.get("cookies") or ():
            self.send_header("set-cookie", cookie)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _answer_gateway(self, status: int, message: str, *, linger: bool = False) -> None:
        """An answer API Gateway gives itself, never reaching the function."""
        body = json.dumps({"message": message}, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        if linger:  # the body was not read: this connection cannot carry another request
            self.send_header("connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        if linger:
            self._drain()

    def _drain(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(_LINGER_SECONDS)
            drained = 0
            while drained < _LINGER_BYTES:
                data = self.connection.recv(65536)
                if not data:
                    break
                drained += len(data)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the handler logs each request itself, as JSON, like in CloudWatch
