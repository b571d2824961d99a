"""`make run`: the local cloud. The real Lambda handler behind a small HTTP front.

Each HTTP request becomes an API Gateway HTTP API (payload 2.0) event, is passed to
`authapi.handlers.api.handler` with a fake Lambda context, and the handler's response is written
back. One request at a time, like one Lambda execution environment. Keys come from SSM (moto's
server), data from the embedded PostgreSQL, exactly through the code paths used in AWS. Between
requests, EventBridge Scheduler's stand-in invokes the maintenance function's handler: at start,
then every minute (every 15 in AWS).

Usage: python -m devtools.local_cloud [--port 8000] [--maintenance-every 60]
"""

from __future__ import annotations

import argparse
import base64
import logging
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import urlsplit

from devtools.lambda_events import http_api_event, lambda_context
from devtools.local_stack import migrate_through_handler, start_local_stack
from devtools.maintenance import maintain_through_handler

HOST = "127.0.0.1"
# the hop-by-hop headers API Gateway does not pass on to the integration
_NOT_FORWARDED = frozenset({"connection", "keep-alive", "transfer-encoding", "upgrade"})


class ApiGatewayStandIn(BaseHTTPRequestHandler):
    handler: Any = None  # set by serve(): the Lambda handler
    server: HTTPServer
    protocol_version = "HTTP/1.1"

    def _forward(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
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
            domain=f"{HOST}:{self.server.server_port}",
        )
        response = type(self).handler(event, lambda_context())
        self._write(response)

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

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _forward

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the handler logs each request itself, as JSON, like in CloudWatch


class LocalCloud(HTTPServer):
    """The API Gateway stand-in, and the scheduler's: `maintain` runs every `every` seconds, on
    the serving thread between requests (serve_forever calls service_actions after each poll and
    each request), so it stops with the server and never runs beside a request."""

    def __init__(
        self, address: tuple[str, int], maintain: Callable[[], object], every: float
    ) -> None:
        super().__init__(address, ApiGatewayStandIn)
        self.maintain = maintain
        self.every = every
        self.next_run = time.monotonic()  # the first run at start

    def service_actions(self) -> None:
        if time.monotonic() < self.next_run:
            return
        try:
            self.maintain()
        except Exception:
            # as in AWS, a failed run is the next one's to redo; the server goes on
            logging.getLogger("devtools.local_cloud").exception("maintenance run failed")
        self.next_run = time.monotonic() + self.every


def serve(port: int, maintenance_every: float = 60) -> None:
    stack = start_local_stack()
    print(
        f"SSM stand-in (moto) on {stack.ssm_endpoint}; database migrated to "
        f"{', '.join(migrate_through_handler())}",
        flush=True,
    )
    from authapi.handlers.api import handler  # imported after the environment is in place

    ApiGatewayStandIn.handler = staticmethod(handler)
    server = LocalCloud((HOST, port), maintain_through_handler, maintenance_every)
    print(
        f"local cloud: the Lambda handler on http://{HOST}:{port} (docs: /docs); "
        f"maintenance every {maintenance_every:g} s",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument(
        "--maintenance-every", type=float, default=60, help="seconds between maintenance runs"
    )
    args = parser.parse_args()
    serve(args.port, args.maintenance_every)


if __name__ == "__main__":
    main()
