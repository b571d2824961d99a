"""One log line per request: method, path, status and duration; the logging filter adds the
request id. The query string is left out: it is where clients put secrets they should not.

Written by `authapi.middleware.front` once the answer is sent (or the app gave up)."""

from __future__ import annotations

import logging
import time

from starlette.types import Scope

logger = logging.getLogger("authapi.access")


def log_request(scope: Scope, *, status: int, started: float, client_ip: str | None) -> None:
    """`started` is the request's `time.perf_counter()` on arrival."""
    logger.info(
        "request completed",
        extra={
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            "client_ip": client_ip,
        },
    )
