"""Floors: what the same work costs with nothing of authapi's around it, in the warm probe.

Each floor is the lowest figure any implementation on this stack could reach for that piece:
the bare library call, on the same interpreter, key, database socket and SQL, interleaved call
by call with the real request so that the machine's noise lands on both alike.

- `/me`: hello (FastAPI + Mangum answering a constant), one RS256 verify with the production
  key, and the exact statement `/me` sends, replayed on a bare psycopg connection to the same
  server (no server-side prepares, autocommit, as the app's: one unnamed round trip).
- refresh: its two statements (the rate-limit hit, the rotation), replayed the same way. Both
  write, so each commits on its own and waits for its WAL flush: the read `/me` makes does not.
  Before each replay the rotation's rows are put back (outside the timed part), so that every
  replay rotates a live token, as a real refresh does.
- the middleware stack: each Powertools decorator the handler wears, alone around a no-op
  handler, and one JSON log line through a bare Powertools Logger to stdout (no redaction);
  and, in the stack's own loop (probe.stack_overhead), hello wearing all of them at once
  (`powertools_hello`): the stack's floor, measured beside the stack itself.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from devtools.lambda_events import http_api_event, lambda_context

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


class Captured:
    """The statements one call sends, with their bound parameters by name (psycopg's pyformat)."""

    def __init__(self) -> None:
        self.statements: list[Statement] = []

    def __call__(
        self, _conn: Any, _cursor: Any, sql: str, params: Any, _context: Any, _many: Any
    ) -> None:
        self.statements.append((sql, dict(params or {})))


Statement = tuple[str, dict[str, Any]]


def _plain(value: Any) -> Any:
    """A bound value as the bare driver takes it: SQLAlchemy wraps bytea in psycopg's Binary."""
    return getattr(value, "obj", value)


def capture(call: Callable[[], Any]) -> list[Statement]:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    captured = Captured()
    event.listen(Engine, "before_cursor_execute", captured)
    try:
        call()
    finally:
        event.remove(Engine, "before_cursor_execute", captured)
    return captured.statements


async def bare_connection(engine: Any) -> Any:
    """A psycopg connection made as the app's are (same server, same options), no SQLAlchemy."""
    import psycopg

    args, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs["prepare_threshold"] = None  # as the app's (authapi.db.engine.driver_connect_args)
    return await psycopg.AsyncConnection.connect(*args, autocommit=True, **kwargs)


async def _fetch(connection: Any, statement: Statement) -> list[Any]:
    sql, params = statement
    cursor = await connection.execute(sql, {name: _plain(v) for name, v in params.items()})
    return await cursor.fetchall() if cursor.description else []


def _timed(loop: asyncio.AbstractEventLoop, awaitable: Any) -> float:
    started = time.perf_counter()
    loop.run_until_complete(awaitable)
    return time.perf_counter() - started


def _named(statement: Statement, name: str) -> Any:
    return _plain(statement[1][name])


def _successor_hashes(statement: Statement) -> list[bytes]:
    return [
        _plain(value)
        for name, value in statement[1].items()
        if isinstance(_plain(value), bytes) and name != "presented_hash" and "hash" in name
    ]


def powertools_hello() -> Handler:
    """Hello's handler wearing what authapi's handler cannot do without on a warm, unsampled
    invocation: Powertools' Logger and Metrics decorators (as authapi.handlers.lambda_app
    applies them) and one JSON line through a bare Powertools Logger to stdout."""
    import logging
    import warnings

    from aws_lambda_powertools import Logger, Metrics

    from authapi.handlers.lambda_app import correlation_id
    from devtools.bench.hello import handler as hello_handler

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    # a service of its own: a second Powertools Logger of a service shares the first's
    # logging.Logger and has no formatter of its own (powertools_floors makes "bench-floor")
    logger = Logger(service="bench-stack-floor", logger_handler=logging.StreamHandler(sys.stdout))
    line = {"method": "GET", "path": "/hello", "status": 200, "client_ip": "203.0.113.7"}

    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.set_correlation_id(correlation_id(event))  # as authapi's handler sets it
        started = time.perf_counter()
        response = hello_handler(event, context)
        logger.info(
            "request completed",
            extra={**line, "duration_ms": round((time.perf_counter() - started) * 1000, 2)},
        )
        return response

    measured: Handler = Metrics(namespace="bench", service="bench-stack-floor").log_metrics(
        capture_cold_start_metric=True
    )(handler)
    return measured


def powertools_floors(samples: int) -> dict[str, list[float]]:
    """Each Powertools decorator of the handler alone around a no-op, and one JSON log line."""
    import logging
    import warnings

    from aws_lambda_powertools import Logger, Metrics, Tracer

    from authapi.handlers.lambda_app import correlation_id, tracing_enabled

    warnings.filterwarnings("ignore", message="No application metrics to publish")
    # to this process's stdout, as the app's lines go (the orchestrator sends it to a file):
    # writing the line is part of what a line costs
    logger = Logger(service="bench-floor", logger_handler=logging.StreamHandler(sys.stdout))

    def noop(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
        return {"statusCode": 200}

    def correlated(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        logger.set_correlation_id(correlation_id(event))  # as authapi's handler sets it
        return {"statusCode": 200}

    wrapped: dict[str, Callable[..., Any]] = {
        "logger_inject_lambda_context": logger.inject_lambda_context(clear_state=True)(correlated),
        "metrics_log_metrics": Metrics(namespace="bench", service="bench-floor").log_metrics(
            capture_cold_start_metric=True
        )(noop),
    }
    if tracing_enabled():
        tracer = Tracer(service="bench-floor", auto_patch=False)
        wrapped["tracer_capture_lambda_handler"] = tracer.capture_lambda_handler(
            capture_response=False
        )(noop)
    event, context = http_api_event("GET", "/bench/hello"), lambda_context()
    line = {
        "method": "GET",
        "path": "/bench/hello",
        "status": 200,
        "duration_ms": 0.12,
        "client_ip": "203.0.113.7",
    }
    timings: dict[str, list[float]] = {name: [] for name in [*wrapped, "json_log_line"]}
    for round_number in range(samples + 20):
        for name, call in wrapped.items():
            started = time.perf_counter()
            call(event, context)
            if round_number >= 20:
                timings[name].append(time.perf_counter() - started)
        started = time.perf_counter()
        logger.info("request completed", extra=line)
        if round_number >= 20:
            timings["json_log_line"].append(time.perf_counter() - started)
    return timings


def statement_floors(
    loop: asyncio.AbstractEventLoop,
    engine: Any,
    *,
    me: Callable[[], Any],
    refresh: Callable[[], Any],
    interleave: Callable[[], Any],
    samples: int,
    summary: Callable[[list[float]], dict[str, Any]],
) -> dict[str, Any]:
    """/me's read and refresh's two writes, replayed on bare psycopg, interleaved with the real
    requests (`interleave()`, timed by the caller); `refresh()` is called once, to capture."""
    me_statements = capture(me)
    refresh_statements = capture(refresh)
    if len(me_statements) != 1 or len(refresh_statements) != 2:
        raise SystemExit(
            f"floors: expected 1 and 2 statements, saw {len(me_statements)} and "
            f"{len(refresh_statements)}"
        )
    read = me_statements[0]
    hit, rotation = refresh_statements
    presented = _named(rotation, "presented_hash")
    successors = _successor_hashes(rotation)
    connection = loop.run_until_complete(bare_connection(engine))

    async def put_back() -> None:
        # the presented token unspent again, its successor gone (one statement, one commit):
        # the next replay rotates it
        await connection.execute(
            "WITH gone AS (DELETE FROM refresh_tokens WHERE token_hash = ANY(%s::bytea[])) "
            "UPDATE refresh_tokens SET consumed_at = NULL WHERE token_hash = %s",
            (successors, presented),
        )

    timings: dict[str, list[float]] = {"me_read": [], "refresh_hit": [], "refresh_rotation": []}
    rows = []
    try:
        # /me's read next to the real requests; the writes after, on their own: a commit's WAL
        # flush on this machine's disk would otherwise land on the read's figures too
        for round_number in range(samples + 10):
            interleave()  # the real requests, timed by the caller
            took = _timed(loop, _fetch(connection, read))
            if round_number >= 10:
                timings["me_read"].append(took)
        for round_number in range(samples + 10):
            loop.run_until_complete(put_back())
            hit_took = _timed(loop, _fetch(connection, hit))
            started = time.perf_counter()
            rows = loop.run_until_complete(_fetch(connection, rotation))
            rotation_took = time.perf_counter() - started
            if round_number >= 10:
                timings["refresh_hit"].append(hit_took)
                timings["refresh_rotation"].append(rotation_took)
    finally:
        loop.run_until_complete(connection.close())
    return {
        "statements": {
            "me_read": read[0][:60],
            "refresh_hit": hit[0][:60],
            "refresh_rotation": rotation[0][:60],
        },
        "rotation_rows": len(rows),  # 1 or more: every replay rotated a live token
        **{name: summary(values) for name, values in timings.items()},
    }


def rsa_verify_floor(samples: int, summary: Callable[[list[float]], dict[str, Any]]) -> Any:
    """One RS256 verification with cryptography alone (no JWT parsing, no claims)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from authapi.handlers.api import lambda_app
    from authapi.resources import app_resources

    ring = lambda_app.loop.run_until_complete(app_resources(lambda_app.app).key_provider.key_ring())
    key = ring.signing_key
    message = json.dumps({"sub": "x" * 36, "sid": "y" * 36}).encode() * 6
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    public = key.public_key()
    values = []
    for _ in range(samples):
        started = time.perf_counter()
        public.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        values.append(time.perf_counter() - started)
    return summary(values)
