"""A quick before/after of the request path alone: `python -m devtools.bench.stack --ref REF`.

Lighter than `make bench` (no build, no argon2 flows, no round-trip proxy): the source tree and
`functions/authapi` as of git `REF`, each on this virtualenv's Python, side by side in one run on
the same database and SSM stand-in. Figures, not pass/fail; every ratio is against the hello
handler measured in the same process (warm) or the same run (cold), so the two trees compare.

- warm: in one process per tree, interleaved call by call: hello (FastAPI + Mangum), hello's
  route added to authapi's app and called through its handler (the middleware stack, logging and
  routing: `stack`), `GET /api/v1/auth/me`, its deprecated alias, `/health`, a 404, a refresh.
- cold: fresh processes, interleaved: each tree's import + first `/me`, the bare import of the
  dependency set, hello; and authapi's own import time under `-X importtime`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.bench.__main__ import (
    LAMBDA_RUNTIME_ENVIRONMENT,
    PRODUCTION_KEY_BITS,
    REPO,
    REPORTS,
    Runner,
    Variant,
    _prepare_database,
    cold_starts,
    database,
    exported_function,
    import_profile,
    probe_environment,
)

WARM_ENDPOINTS = ("hello", "stack", "me", "me_legacy", "health", "not_found", "refresh")


def warm_probe(invocations: int, profile: str | None = None) -> dict[str, Any]:
    """Runs inside the measured process (PYTHONPATH: one tree first)."""
    from authapi.handlers.api import handler as api_handler
    from authapi.handlers.api import lambda_app
    from devtools.bench.hello import handler as hello_handler
    from devtools.bench.hello import hello
    from devtools.bench.probe import PASSWORD, _invoke, _json, summary_ms
    from devtools.lambda_events import http_api_event, response_json

    lambda_app.app.add_api_route("/bench/hello", hello, methods=["GET"], include_in_schema=False)
    _invoke(api_handler, http_api_event("GET", "/health"), 200)
    email = f"stack-{os.getpid()}-{time.time_ns()}@example.com"
    _invoke(
        api_handler,
        _json("POST", "/api/v1/auth/register", {"email": email, "password": PASSWORD}),
        201,
    )
    session = response_json(
        _invoke(
            api_handler,
            _json("POST", "/api/v1/auth/login", {"email": email, "password": PASSWORD}),
            200,
        )
    )
    state = {"refresh": session["refresh_token"]}

    def refresh() -> None:
        event = _json("POST", "/api/v1/auth/refresh-token", {"refresh_token": state["refresh"]})
        state["refresh"] = response_json(_invoke(api_handler, event, 200))["refresh_token"]

    calls: dict[str, Callable[[], Any]] = {
        "hello": lambda: _invoke(hello_handler, http_api_event("GET", "/hello"), 200),
        "stack": lambda: _invoke(api_handler, http_api_event("GET", "/bench/hello"), 200),
        "me": lambda: _invoke(
            api_handler, _json("GET", "/api/v1/auth/me", token=session["access_token"]), 200
        ),
        "me_legacy": lambda: _invoke(
            api_handler, _json("GET", "/api/auth/me", token=session["access_token"]), 200
        ),
        "health": lambda: _invoke(api_handler, http_api_event("GET", "/health"), 200),
        "not_found": lambda: _invoke(api_handler, http_api_event("GET", "/api/v1/nope"), 404),
        "refresh": refresh,
    }
    if profile:
        import cProfile

        for _ in range(30):
            calls["stack"]()
            calls["me"]()
        for name in ("stack", "me", "refresh"):
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(invocations):
                calls[name]()
            profiler.disable()
            profiler.dump_stats(f"{profile}.{name}")
        return {}
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for round_number in range(invocations + 30):
        for name, call in calls.items():
            started = time.perf_counter()
            call()
            if round_number >= 30:
                timings[name].append(time.perf_counter() - started)
    return {name: summary_ms(values) for name, values in timings.items()}


def _warm(
    runner: Runner, env: dict[str, str], invocations: int, profile: str | None = None
) -> dict[str, Any]:
    import json

    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
        out = Path(handle.name)
    environment = {
        **env,
        **LAMBDA_RUNTIME_ENVIRONMENT,
        "LAMBDA_TASK_ROOT": str(runner.function_dir),
        "PYTHONPATH": os.pathsep.join(str(entry) for entry in runner.path),
    }
    command = [runner.python, "-m", "devtools.bench.stack", "--warm-probe", str(out)]
    command += ["--invocations", str(invocations)]
    if profile:
        command += ["--profile", profile]
    with (REPORTS / "bench-probe.log").open("a") as log:
        process = subprocess.run(
            command, env=environment, stdout=log, stderr=subprocess.PIPE, text=True
        )
    if process.returncode != 0:
        sys.exit(f"stack: warm probe ({runner.label}) failed:\n{process.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return result


def _print_warm(label: str, figures: dict[str, Any]) -> None:
    hello = figures["hello"]["p50_ms"]
    parts = [
        f"{name} {figures[name]['p50_ms']:.3f} ({figures[name]['p50_ms'] / hello:.2f}x)"
        for name in WARM_ENDPOINTS
    ]
    overhead = figures["stack"]["p50_ms"] - hello
    print(f"  {label:<14} " + ", ".join(parts))
    print(f"  {'':<14} stack overhead {overhead:.3f} ms = {overhead / hello:.2f}x hello")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ref", help="the before tree (git ref); omitted: the source tree only")
    parser.add_argument("--invocations", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2, help="warm processes per tree")
    parser.add_argument("--repeat", type=int, default=7, help="cold starts per variant")
    parser.add_argument("--no-cold", action="store_true")
    parser.add_argument("--warm-probe", help=argparse.SUPPRESS)
    parser.add_argument("--profile", help="cProfile the stack and /me calls to PATH.<name>")
    args = parser.parse_args()
    if args.warm_probe:
        import json

        Path(args.warm_probe).write_text(json.dumps(warm_probe(args.invocations, args.profile)))
        return

    from authapi.key_material import generate_private_key_pem
    from devtools.local_stack import start_ssm_stand_in, store_signing_key

    REPORTS.mkdir(parents=True, exist_ok=True)
    db = database()
    pem = generate_private_key_pem(PRODUCTION_KEY_BITS)
    token = asyncio.run(_prepare_database(db.url, pem))
    ssm_endpoint, moto_server = start_ssm_stand_in()
    scratch = Path(tempfile.mkdtemp(prefix="authapi-stack-"))
    try:
        os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
        store_signing_key(ssm_endpoint, pem)
        env = probe_environment(db, ssm_endpoint, token)
        base = Runner(
            "source tree", sys.executable, [], [REPO / "functions", REPO], REPO / "functions"
        )
        runners = [base]
        if args.ref:
            runners.insert(0, base.with_function(exported_function(args.ref, scratch), args.ref))
        if args.profile:
            _warm(base, env, args.invocations, args.profile)
            return
        print("warm p50 ms (x hello in the same process):")
        for round_number in range(args.rounds):
            for runner in runners:
                _print_warm(
                    f"{runner.label} #{round_number + 1}", _warm(runner, env, args.invocations)
                )
        if args.no_cold:
            return
        # cold_starts takes its ratios from the variant named "app": the source tree
        variants = [
            Variant("app" if runner is base else f"app@{runner.label}", runner, "app")
            for runner in runners
        ]
        variants += [Variant(mode, base, mode) for mode in ("hello", "deps", "floor")]
        cold = cold_starts(variants, env, args.repeat)
        deps = cold["variants"]["deps"]["median_ms"]
        hello = cold["variants"]["hello"]["median_ms"]
        print(f"cold start, median of {args.repeat} (x deps, x hello; wall and CPU):")
        for name, variant in cold["variants"].items():
            m = variant["median_ms"]
            print(
                f"  {name:<24} wall {m['total']:7.1f} ms ({m['total'] / deps['total']:.2f}x deps, "
                f"{m['total'] / hello['total']:.2f}x hello)  CPU {m['cpu_total']:7.1f} ms "
                f"({m['cpu_total'] / deps['cpu_total']:.2f}x deps)  import {m['import']:.1f}"
                f"  first request {m['first_request']:.1f}"
            )
        for variant in variants:
            if variant.mode != "app":
                continue
            profile = import_profile(variant, env)
            own = {
                row["package"]: row["self_ms"] for row in profile["handler_import"]["top_packages"]
            }
            first, handler = profile["first_request"], profile["handler_import"]
            print(
                f"  importtime {variant.runner.label}: handler import {handler['total_ms']} ms "
                f"({handler['modules']} modules), authapi own {own.get('authapi')} ms; "
                f"first request {first['total_ms']} ms ({first['modules']} modules)"
            )
    finally:
        moto_server.stop()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
