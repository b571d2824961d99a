"""The benchmark's measuring end: runs in a fresh process, next to the built artifact.

Standard library only at import (plus devtools.lambda_events, devtools.stats and
devtools.bench.wire, which are too), so that a cold start measures the app and nothing this
file brings. The orchestrator (`python -m devtools.bench`) supplies PostgreSQL, SSM and the
environment; this process writes its figures as JSON to the path given by `--out`.

Modes:
  floor       the interpreter alone: process start to this file running
  deps        a bare import of the dependency set
  hello       a minimal FastAPI + Mangum handler imported, then GET /hello answered
  app         `authapi.handlers.api` imported, then GET /api/v1/auth/me answered (cold start)
  warm        per-endpoint latency through the warm handler, and argon2 alone
  roundtrips  statements and network round trips per endpoint, through devtools.bench.wire
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from functools import partial
from typing import Any

STARTED = time.monotonic()  # CLOCK_MONOTONIC: comparable with the parent's clock
# CPU time of this process so far (interpreter start-up included): unlike wall time, barely
# moved by whatever else the machine is running
CPU_STARTED = time.process_time()

from devtools.lambda_events import http_api_event, lambda_context, response_json  # noqa: E402
from devtools.stats import percentile  # noqa: E402

# The import floor every app on this stack pays, whatever it does: pyproject.toml's runtime
# dependencies that the API function imports, imported bare (no app, no settings, no connection).
# boto3 because the first request reads SSM; aws_xray_sdk because the Tracer (the [tracer] extra)
# runs in Lambda. Left out: alembic (only the migrate function imports it) and
# snapshot_restore_py (imported only under SnapStart).
DEPENDENCY_MODULES = (
    "fastapi",
    "pydantic",
    "pydantic_settings",
    "email_validator",
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.orm",
    "psycopg",
    "jwt",
    "argon2",
    "aws_lambda_powertools",
    "aws_xray_sdk.core",
    "mangum",
    "boto3",
)
PASSWORD = "correct horse battery staple"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _invoke(handler: Handler, event: dict[str, Any], expected: int) -> dict[str, Any]:
    response = handler(event, lambda_context())
    if response["statusCode"] != expected:
        body = str(response.get("body"))[:300]
        sys.exit(f"probe: {event['rawPath']} answered {response['statusCode']}: {body}")
    return response


def _json(method: str, path: str, payload: Any = None, token: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    body = json.dumps(payload) if payload is not None else None
    return http_api_event(method, path, headers=headers, body=body)


def _app_module_source() -> str:
    import authapi

    return os.path.dirname(str(authapi.__file__))


def cold(mode: str) -> dict[str, Any]:
    result: dict[str, Any] = {"started": STARTED, "cpu_started": CPU_STARTED}
    if mode == "deps":
        import importlib

        for name in DEPENDENCY_MODULES:
            importlib.import_module(name)
        result["imported"], result["cpu_imported"] = time.monotonic(), time.process_time()
    elif mode == "hello":
        from devtools.bench.hello import handler

        result["imported"], result["cpu_imported"] = time.monotonic(), time.process_time()
        _invoke(handler, http_api_event("GET", "/hello"), 200)
    elif mode == "app":
        from authapi.handlers.api import handler as api_handler

        result["imported"], result["cpu_imported"] = time.monotonic(), time.process_time()
        print("### first request", file=sys.stderr, flush=True)  # splits -X importtime output
        me = _json("GET", "/api/v1/auth/me", token=os.environ["BENCH_ACCESS_TOKEN"])
        _invoke(api_handler, me, 200)
        result["authapi_from"] = _app_module_source()
    else:  # floor
        result["imported"], result["cpu_imported"] = STARTED, CPU_STARTED
    result["answered"], result["cpu_answered"] = time.monotonic(), time.process_time()
    if mode in ("floor", "deps"):
        result["answered"], result["cpu_answered"] = result["imported"], result["cpu_imported"]
    result["python"] = sys.version.split()[0]
    return result


class Flow:
    """register -> login -> me -> refresh -> logout, each endpoint `count` times in a row."""

    ENDPOINTS = ("register", "login", "me", "refresh", "logout")

    def __init__(self, handler: Handler, run_id: str):
        self.handler = handler
        self.run_id = run_id
        self.serial = 0

    def batch(self, count: int, measure: Callable[[str, Callable[[], Any]], Any]) -> None:
        """Run `count` of each endpoint, passing each call through `measure(endpoint, call)`."""
        emails = []
        for _ in range(count):
            self.serial += 1
            emails.append(f"bench-{self.run_id}-{self.serial}@example.com")
        for email in emails:
            event = _json("POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD})
            measure("register", partial(_invoke, self.handler, event, 201))
        sessions = []
        for email in emails:
            event = _json("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
            response = measure("login", partial(_invoke, self.handler, event, 200))
            sessions.append(response_json(response))
        for session in sessions:
            event = _json("GET", "/api/v1/auth/me", token=session["access_token"])
            measure("me", partial(_invoke, self.handler, event, 200))
        for session in sessions:
            payload = {"refresh_token": session["refresh_token"]}
            event = _json("POST", "/api/v1/auth/refresh-token", payload)
            measure("refresh", partial(_invoke, self.handler, event, 200))
        for session in sessions:
            event = _json("POST", "/api/v1/auth/logout", token=session["access_token"])
            measure("logout", partial(_invoke, self.handler, event, 204))


def summary_ms(seconds: list[float]) -> dict[str, float | int]:
    values = [value * 1000 for value in seconds]
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 0.50), 3),
        "p90_ms": round(percentile(values, 0.90), 3),
        "p99_ms": round(percentile(values, 0.99), 3),
        "mean_ms": round(statistics.fmean(values), 3),
        "min_ms": round(min(values), 3),
        "max_ms": round(max(values), 3),
    }


def warm(invocations: int, warmup: int, argon2_samples: int) -> dict[str, Any]:
    from authapi.handlers.api import handler as api_handler

    _invoke(api_handler, http_api_event("GET", "/health"), 200)  # the cold one, not counted
    overhead = stack_overhead(api_handler, invocations * 5)
    flow = Flow(api_handler, uuid.uuid4().hex[:8])
    flow.batch(warmup, lambda _endpoint, call: call())
    timings: dict[str, list[float]] = {endpoint: [] for endpoint in Flow.ENDPOINTS}

    def timed(endpoint: str, call: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        response = call()
        timings[endpoint].append(time.perf_counter() - started)
        return response

    flow.batch(invocations, timed)
    return {
        "endpoints": {endpoint: summary_ms(values) for endpoint, values in timings.items()},
        "overhead": overhead,
        "floors": floors(api_handler, invocations),
        "signing": signing_alone(invocations),
        "rds_token": rds_token_first_call(),
        "argon2": argon2_alone(argon2_samples),
        "python": sys.version.split()[0],
        "authapi_from": _app_module_source(),
    }


def stack_overhead(api_handler: Handler, samples: int) -> dict[str, Any]:
    """What authapi's stack costs outside the database: one trivial route, bare and wrapped.

    `bare` is the hello handler (FastAPI + Mangum, nothing else); `authapi` is the same route
    added to authapi's own app and called through its handler: the Powertools decorators, the
    logging setup, every middleware, the access log line; `powertools` is hello wearing the
    Powertools decorators and writing one bare JSON line (the stack's floor). Interleaved call
    by call, so that the machine's noise lands on all three alike.
    """
    from authapi.handlers.api import lambda_app
    from devtools.bench.floors import powertools_hello
    from devtools.bench.hello import handler as hello_handler
    from devtools.bench.hello import hello

    lambda_app.app.add_api_route("/bench/hello", hello, methods=["GET"], include_in_schema=False)
    bare_event, wrapped_event = (
        http_api_event("GET", "/hello"),
        http_api_event("GET", "/bench/hello"),
    )
    floor_handler = powertools_hello()
    for _ in range(20):  # all warm before anything is timed
        _invoke(hello_handler, bare_event, 200)
        _invoke(floor_handler, bare_event, 200)
        _invoke(api_handler, wrapped_event, 200)
    bare, floor, wrapped = [], [], []
    for _ in range(samples):
        started = time.perf_counter()
        _invoke(hello_handler, bare_event, 200)
        bare.append(time.perf_counter() - started)
        started = time.perf_counter()
        _invoke(floor_handler, bare_event, 200)
        floor.append(time.perf_counter() - started)
        started = time.perf_counter()
        _invoke(api_handler, wrapped_event, 200)
        wrapped.append(time.perf_counter() - started)
    return {
        "bare": summary_ms(bare),
        "powertools": summary_ms(floor),
        "authapi": summary_ms(wrapped),
    }


def floors(api_handler: Handler, samples: int) -> dict[str, Any]:
    """devtools.bench.floors, on this process's handler: what no implementation can go below."""
    from authapi.handlers.api import lambda_app
    from authapi.resources import app_resources
    from devtools.bench import floors as bare
    from devtools.bench.hello import handler as hello_handler

    email = f"floor-{uuid.uuid4().hex[:8]}@example.com"
    _invoke(
        api_handler,
        _json("POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD}),
        201,
    )
    login = _json("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD})
    session = response_json(_invoke(api_handler, login, 200))
    me = _json("GET", "/api/v1/auth/me", token=session["access_token"])
    refresh = _json(
        "POST", "/api/v1/auth/refresh-token", {"refresh_token": session["refresh_token"]}
    )
    hello_event = http_api_event("GET", "/hello")
    interleaved: dict[str, list[float]] = {"hello": [], "me": []}

    def timed_me() -> None:
        for name, handler, event in (
            ("hello", hello_handler, hello_event),
            ("me", api_handler, me),
        ):
            started = time.perf_counter()
            _invoke(handler, event, 200)
            interleaved[name].append(time.perf_counter() - started)

    statements = bare.statement_floors(
        lambda_app.loop,
        app_resources(lambda_app.app).database.engine.sync_engine,
        me=partial(_invoke, api_handler, me, 200),
        refresh=partial(_invoke, api_handler, refresh, 200),
        interleave=timed_me,
        samples=samples,
        summary=summary_ms,
    )
    return {
        "interleaved": {name: summary_ms(values) for name, values in interleaved.items()},
        "statements": statements,
        "rsa_verify": bare.rsa_verify_floor(samples, summary_ms),
        "powertools": {
            name: summary_ms(values) for name, values in bare.powertools_floors(samples).items()
        },
    }


def signing_alone(samples: int) -> dict[str, Any]:
    """The access token's RS256 signature and its verification, on the key the app signs with."""
    from authapi.auth.tokens import issue_access_token, verify_access_token
    from authapi.handlers.api import lambda_app
    from authapi.resources import app_resources

    resources = app_resources(lambda_app.app)
    ring = lambda_app.loop.run_until_complete(resources.key_provider.key_ring())
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    signs, verifies = [], []
    for _ in range(samples):
        now = resources.clock.now()
        started = time.perf_counter()
        token = issue_access_token(
            ring,
            resources.settings,
            user_id=user_id,
            session_id=session_id,
            auth_time=now,
            now=now,
        )
        signs.append(time.perf_counter() - started)
        started = time.perf_counter()
        verify_access_token(ring, resources.settings, token, now=now)
        verifies.append(time.perf_counter() - started)
    return {
        "key_bits": ring.signing_key.key_size,
        "sign": summary_ms(signs),
        "verify": summary_ms(verifies),
    }


def rds_token_first_call() -> dict[str, float]:
    """The first RDS IAM token of an environment (the bench's database takes a password, but
    in AWS the first connection signs one): authapi's signer, then a boto3 client's, each
    timed on its first call in this process (botocore's modules are already imported by then:
    what differs is the client's service model)."""
    import boto3

    from authapi.aws_signing import CredentialSource, rds_auth_token

    host, port, user = "proxy.example.internal", 5432, "authapi_app"
    region = os.environ.get("AWS_REGION", "us-east-1")
    started = time.perf_counter()
    rds_auth_token(CredentialSource(), host=host, port=port, user=user, region=region)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    boto3.client("rds", region_name=region).generate_db_auth_token(
        DBHostname=host, Port=port, DBUsername=user, Region=region
    )
    client = time.perf_counter() - started
    return {"authapi_ms": round(ours * 1000, 2), "boto3_client_ms": round(client * 1000, 2)}


def argon2_alone(samples: int) -> dict[str, Any]:
    """PasswordHashing's hash and verify, called directly: no event loop, no thread hop."""
    from authapi.config import get_settings
    from authapi.passwords import PasswordHashing

    settings = get_settings()
    hasher = PasswordHashing.from_settings(settings).hasher
    hashes, verifies = [], []
    password_hash = hasher.hash(PASSWORD)
    for _ in range(samples):
        started = time.perf_counter()
        hasher.hash(PASSWORD)
        hashes.append(time.perf_counter() - started)
        started = time.perf_counter()
        hasher.verify(password_hash, PASSWORD)
        verifies.append(time.perf_counter() - started)
    return {
        "parameters": {
            "memory_cost_kib": settings.argon2_memory_cost_kib,
            "time_cost": settings.argon2_time_cost,
            "parallelism": settings.argon2_parallelism,
        },
        "hash": summary_ms(hashes),
        "verify": summary_ms(verifies),
    }


def roundtrips(samples: int) -> dict[str, Any]:
    from devtools.bench.wire import WireCounter, classify

    counter = WireCounter(os.environ["BENCH_PROXY_DIR"], os.environ["BENCH_UPSTREAM"])
    counter.start()

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    statements: list[str] = []

    def before_cursor_execute(*args: Any) -> None:
        from devtools.bench.wire import short_sql

        statements.append(short_sql(args[2]))

    # on the class: every engine the app creates, without reaching into the app for it
    event.listen(Engine, "before_cursor_execute", before_cursor_execute)

    from authapi.handlers.api import handler as api_handler

    def observe(call: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
        counter.take()
        statements.clear()
        response = call()
        labels = counter.take()
        return response, {
            "statements": len(statements),
            "statement_kinds": list(statements),
            "round_trips": len(labels),
            "by_purpose": classify(labels),
            "sequence": labels,
        }

    token = os.environ["BENCH_ACCESS_TOKEN"]
    me = _json("GET", "/api/v1/auth/me", token=token)
    _, first_request = observe(lambda: _invoke(api_handler, me, 200))

    flow = Flow(api_handler, uuid.uuid4().hex[:8])
    flow.batch(2, lambda _endpoint, call: call())  # past connection setup and type caches
    observed: dict[str, list[dict[str, Any]]] = {endpoint: [] for endpoint in Flow.ENDPOINTS}

    def record(endpoint: str, call: Callable[[], Any]) -> Any:
        response, counts = observe(call)
        observed[endpoint].append(counts)
        return response

    flow.batch(samples, record)
    endpoints = {}
    for endpoint, runs in observed.items():
        # the usual invocation; a rare one (a replaced connection, say) shows in the range
        usual = Counter(json.dumps(run, sort_keys=True) for run in runs).most_common(1)[0][0]
        endpoints[endpoint] = {
            **json.loads(usual),
            "samples": len(runs),
            "round_trips_range": [
                min(run["round_trips"] for run in runs),
                max(run["round_trips"] for run in runs),
            ],
        }
    return {"first_request_me": first_request, "endpoints": endpoints}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("floor", "deps", "hello", "app", "warm", "roundtrips"))
    parser.add_argument("--out", required=True)
    parser.add_argument("--invocations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--argon2-samples", type=int, default=30)
    parser.add_argument("--samples", type=int, default=5)
    args = parser.parse_args()
    if args.mode == "warm":
        result = warm(args.invocations, args.warmup, args.argon2_samples)
    elif args.mode == "roundtrips":
        result = roundtrips(args.samples)
    else:
        result = cold(args.mode)
    with open(args.out, "w") as file:
        json.dump(result, file)


if __name__ == "__main__":
    main()
