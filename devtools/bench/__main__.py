"""`make bench`: figures, not pass/fail. Writes .local/reports/bench.json and prints a summary.

Every figure comes from a fresh process running `devtools.bench.probe` on the built x86_64
artifact under python3.13 (`-S -P`, with only the built function, the built layer and the
runtime's boto3 on its path, as `make smoke` does), or on the virtualenv's Python and the source
tree when there is no build. The probe's environment is the Lambda one: production settings,
keys from SSM (moto's server), PostgreSQL (embedded), and LAMBDA_TASK_ROOT plus an unsampled
trace header, so the Tracer and the X-Ray SDK take the path they take in Lambda.

Usage: python -m devtools.bench [--repeat 11] [--invocations 200] [--compare-ref REF]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from devtools.bench import importtime, instructions, sizes
from devtools.embedded_postgres import local_database
from devtools.local_stack import (
    LOCAL_DIR,
    LOCAL_PARAMETERS,
    local_lambda_environment,
    start_ssm_stand_in,
    store_signing_key,
)
from devtools.smoke import lambda_runtime_dir

REPO = Path(__file__).resolve().parents[2]
REPORTS = LOCAL_DIR / "reports"
BENCH_DATABASE = "authapi_bench"
PROBE = "devtools.bench.probe"
PRODUCTION_KEY_BITS = 3072
UNLIMITED = "1000000"  # every probe request comes from one address: no 429s in a benchmark
# What the Lambda runtime sets besides LAMBDA_TASK_ROOT. With them the Tracer is on and the X-Ray
# SDK takes its Lambda path; the trace header says "not sampled", so nothing is sent anywhere.
LAMBDA_RUNTIME_ENVIRONMENT = {
    "AWS_LAMBDA_FUNCTION_NAME": "authapi-bench-api",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
    "_X_AMZN_TRACE_ID": "Root=1-00000000-000000000000000000000000;Parent=0000000000000000;"
    "Sampled=0",
}


@dataclass
class Runner:
    """How a probe process is started: which Python, with which code on its path."""

    label: str
    python: str
    flags: list[str]
    path: list[Path]
    function_dir: Path

    def with_function(self, function_dir: Path, label: str) -> Runner:
        """The same interpreter and layer, another copy of the function code."""
        return Runner(label, self.python, self.flags, [function_dir, *self.path[1:]], function_dir)

    def run(
        self,
        mode: str,
        env: dict[str, str],
        *extra: str,
        in_lambda: bool = True,
        importtime: bool = False,
        wrapper: list[str] | None = None,
    ) -> tuple[dict[str, Any], float, str]:
        """Run the probe (under `wrapper`, a command that runs it, if given); return its JSON,
        the monotonic time it was spawned at, and stderr."""
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            out = Path(handle.name)
        command = [*(wrapper or []), self.python, *self.flags]
        if importtime:
            command += ["-X", "importtime"]
        command += ["-m", PROBE, mode, "--out", str(out), *extra]
        environment = {**env, "PYTHONPATH": os.pathsep.join(str(entry) for entry in self.path)}
        if in_lambda:
            environment.update(LAMBDA_RUNTIME_ENVIRONMENT, LAMBDA_TASK_ROOT=str(self.function_dir))
        with (REPORTS / "bench-probe.log").open("a") as log:
            spawned = time.monotonic()
            process = subprocess.run(
                command, env=environment, stdout=log, stderr=subprocess.PIPE, text=True, check=False
            )
        try:
            if process.returncode != 0:
                sys.exit(f"bench: probe {mode} ({self.label}) failed:\n{process.stderr[-3000:]}")
            return json.loads(out.read_text()), spawned, process.stderr
        finally:
            out.unlink(missing_ok=True)


@dataclass(frozen=True)
class Variant:
    """One cold-start measurement: a probe mode, on some copy of the code, in or out of Lambda."""

    name: str
    runner: Runner
    mode: str
    in_lambda: bool = True


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        sys.exit(f"bench: {name} is not on PATH")
    return path


def find_python313(explicit: str | None) -> str | None:
    """python3.13, as mk/aws.mk finds it: given, on PATH, or the newest pyenv 3.13."""
    candidates = [explicit, os.environ.get("PYTHON313"), shutil.which("python3.13")]
    if shutil.which("pyenv"):
        root = subprocess.run(
            [tool("pyenv"), "root"], capture_output=True, text=True, check=False
        ).stdout.strip()
        candidates += sorted(
            (str(path) for path in Path(root).glob("versions/3.13.*/bin/python3.13")),
            reverse=True,
        )
    for candidate in candidates:
        if not candidate:
            continue
        check = [candidate, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 13))"]
        if subprocess.run(check, capture_output=True, check=False).returncode == 0:
            return candidate
    return None


def _source_digest(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def artifact_runner(build_dir: Path, python313: str | None) -> tuple[Runner, dict[str, Any]]:
    """The built artifact under python3.13 when it exists, else the source tree on this venv."""
    function_dir, layer_dir = build_dir / "ApiFunction", build_dir / "DependenciesLayer" / "python"
    if python313 and (function_dir / "authapi").is_dir() and layer_dir.is_dir():
        runtime = lambda_runtime_dir(python313)
        stale = _source_digest(function_dir / "authapi") != _source_digest(
            REPO / "functions" / "authapi"
        )
        runner = Runner(
            label="built artifact",
            python=python313,
            # -S: not even the interpreter's own site-packages; -P: no script folder on the path
            flags=["-S", "-P"],
            path=[function_dir, layer_dir, runtime, REPO],
            function_dir=function_dir,
        )
        source = {
            "kind": "built artifact",
            "build_dir": str(build_dir),
            "stale": stale,
            "description": f"{build_dir} under python3.13 -S -P (function, layer, runtime boto3)",
        }
        return runner, source
    runner = Runner(
        label="virtualenv",
        python=sys.executable,
        flags=[],
        path=[REPO / "functions", REPO],
        function_dir=REPO / "functions",
    )
    source = {
        "kind": "virtualenv",
        "build_dir": None,
        "stale": False,
        "description": f"source tree on {sys.executable} (no build at {build_dir})",
    }
    return runner, source


def exported_function(ref: str, scratch: Path) -> Path:
    """functions/authapi as of git `ref`, to cold-start against the same layer."""
    archive = subprocess.run(
        [tool("git"), "archive", "--format=tar", ref, "functions/authapi"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    target = scratch / f"ref-{ref.replace('/', '_')}"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / "functions"


# ---- the stand-ins ------------------------------------------------------------------------


async def _prepare_database(url: str, pem: str) -> str:
    """Migrate, then register the account whose access token every cold /me presents."""
    import httpx

    from authapi.app import create_app
    from authapi.config import Settings
    from authapi.db.engine import create_engine
    from authapi.migrations import upgrade_to_head
    from authapi.resources import app_resources

    # the token must verify in the probes: the same issuer and audience as their environment
    settings = Settings(
        environment="test",
        database_url=url,
        jwt_private_key=pem,
        jwt_issuer=LOCAL_PARAMETERS["Issuer"],
        jwt_audience=LOCAL_PARAMETERS["Audience"],
        log_level="WARNING",
    )
    engine = create_engine(settings)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    app = create_app(settings)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            response = await client.post(
                "/api/v1/auth/register",
                json={
                    "email": f"cold-{uuid.uuid4().hex[:8]}@example.com",
                    "password": "correct horse battery staple",
                },
            )
        response.raise_for_status()
        return str(response.json()["access_token"])
    finally:
        await app_resources(app).aclose()


@dataclass
class Database:
    url: str  # SQLAlchemy URL the probes use
    upstream: str  # the server's own socket (or host:port), for the round-trip proxy
    server_version: str
    embedded: bool


def database() -> Database:
    from sqlalchemy.engine import make_url

    local = local_database(BENCH_DATABASE, fresh=True)
    url = make_url(local.url)
    version = asyncio.run(_server_version(local.dsn))
    host = str(url.query.get("host") or url.host or "localhost")
    port = url.port or 5432
    upstream = f"{host}/.s.PGSQL.{port}" if host.startswith("/") else f"{host}:{port}"
    return Database(
        url=local.url, upstream=upstream, server_version=version, embedded=local.server is not None
    )


async def _server_version(dsn: str) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


def proxied_url(url: str, directory: str) -> str:
    """The same database through the round-trip proxy's socket."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    query = {key: value for key, value in parsed.query.items() if key not in ("host", "port")}
    return parsed.set(host=None, port=None, query={**query, "host": directory}).render_as_string(
        hide_password=False
    )


def probe_environment(db: Database, ssm_endpoint: str, token: str) -> dict[str, str]:
    """What template.yaml sets in AWS (Runner.run adds what the Lambda runtime sets)."""
    return {
        **local_lambda_environment(db.url),
        "PATH": "/usr/bin:/bin",
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only in Lambda: nothing is cached
        "AUTHAPI_RATE_LIMIT_LOGIN": UNLIMITED,
        "AUTHAPI_RATE_LIMIT_REGISTER": UNLIMITED,
        "AUTHAPI_RATE_LIMIT_REFRESH": UNLIMITED,
        "AUTHAPI_LOGIN_MAX_FAILURES": UNLIMITED,
        "AWS_ENDPOINT_URL_SSM": ssm_endpoint,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "BENCH_ACCESS_TOKEN": token,
    }


# ---- the sections -------------------------------------------------------------------------


def _median_ms(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 1)


def cold_starts(variants: list[Variant], env: dict[str, str], repeat: int) -> dict[str, Any]:
    """Each variant `repeat` times, interleaved so that machine noise spreads over all of them."""
    samples: dict[str, list[dict[str, float]]] = {variant.name: [] for variant in variants}
    for round_number in range(repeat + 1):
        for variant in variants:
            result, spawned, _ = variant.runner.run(variant.mode, env, in_lambda=variant.in_lambda)
            if round_number == 0:
                continue  # the first round only warms the page cache
            samples[variant.name].append(
                {
                    "total": result["answered"] - spawned,
                    "startup": result["started"] - spawned,
                    "import": result["imported"] - result["started"],
                    "first_request": result["answered"] - result["imported"],
                    "cpu_total": result["cpu_answered"],
                    "cpu_import": result["cpu_imported"] - result["cpu_started"],
                    "cpu_first_request": result["cpu_answered"] - result["cpu_imported"],
                }
            )
        print(f"bench: cold starts, round {round_number}/{repeat}", file=sys.stderr)
    results: dict[str, dict[str, Any]] = {}
    for variant in variants:
        runs = samples[variant.name]
        results[variant.name] = {
            "mode": variant.mode,
            "in_lambda": variant.in_lambda,
            "code": variant.runner.label,
            "median_ms": {key: _median_ms([run[key] for run in runs]) for key in runs[0]},
            "min_ms": {key: round(min(run[key] for run in runs) * 1000, 1) for key in runs[0]},
            "samples_total_ms": [round(run["total"] * 1000, 1) for run in runs],
        }
    app = results["app"]["median_ms"]
    ratios = {
        f"app/{name}": round(app["total"] / results[name]["median_ms"]["total"], 2)
        for name in ("hello", "deps", "floor")
    }
    cpu_ratios = {
        f"app/{name}": round(app["cpu_total"] / results[name]["median_ms"]["cpu_total"], 2)
        for name in ("hello", "deps", "floor")
    }
    return {"repeat": repeat, "variants": results, "ratios": ratios, "cpu_ratios": cpu_ratios}


def import_profile(variant: Variant, env: dict[str, str]) -> dict[str, Any]:
    _, _, stderr = variant.runner.run("app", env, in_lambda=variant.in_lambda, importtime=True)
    return importtime.report(stderr)


def commit_subject(ref: str) -> str:
    return subprocess.run(
        [tool("git"), "log", "-1", "--format=%s", ref],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def machine(python313_version: str | None) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        [tool("git"), "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            [tool("git"), "status", "--porcelain", "functions"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "orchestrator_python": platform.python_version(),
        "probe_python": python313_version,
        "commit": commit,
        "functions_dirty": dirty,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def print_summary(report: dict[str, Any]) -> None:
    cold = report["cold_start"]
    print(f"\ncold start ({report['source']['description']}), median of {cold['repeat']}:")
    for name, variant in cold["variants"].items():
        median = variant["median_ms"]
        print(
            f"  {name:<20} total {median['total']:7.1f} ms (min {variant['min_ms']['total']:7.1f})"
            f"  import {median['import']:7.1f}  first request {median['first_request']:6.1f}"
            f"  | CPU {median['cpu_total']:7.1f} ms"
        )
    print("  ratios: " + ", ".join(f"{key} {value}" for key, value in cold["ratios"].items()))
    print("  CPU ratios: " + ", ".join(f"{k} {v}" for k, v in cold["cpu_ratios"].items()))
    warm = report["warm"]
    print(f"\nwarm handler latency (n={warm['invocations']} each):")
    for endpoint, stats in warm["endpoints"].items():
        print(f"  {endpoint:<9} p50 {stats['p50_ms']:7.2f} ms   p99 {stats['p99_ms']:7.2f} ms")
    argon2 = warm["argon2"]
    print(
        f"  argon2 alone: hash p50 {argon2['hash']['p50_ms']} ms, "
        f"verify p50 {argon2['verify']['p50_ms']} ms"
    )
    print("\ndatabase per request (statements / network round trips):")
    for endpoint, counts in report["round_trips"]["endpoints"].items():
        print(
            f"  {endpoint:<9} {counts['statements']} statements, {counts['round_trips']} round "
            f"trips {counts['by_purpose']}"
        )
    if report["sizes"] is None:
        print("\ndeployment size: no .aws-sam/build (make build)")
        return
    print("\ndeployment size (.aws-sam/build, arm64):")
    for name, artifact in report["sizes"]["artifacts"].items():
        print(
            f"  {name:<18} {artifact['unzipped_bytes'] / 2**20:7.1f} MiB unzipped, "
            f"{artifact['zipped_bytes'] / 2**20:6.1f} MiB zipped"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=REPORTS / "bench.json")
    parser.add_argument("--repeat", type=int, default=11, help="cold starts per variant")
    parser.add_argument("--invocations", type=int, default=200, help="warm calls per endpoint")
    parser.add_argument("--build-dir", type=Path, default=Path(".aws-sam-x86_64/build"))
    parser.add_argument("--deploy-build-dir", type=Path, default=Path(".aws-sam/build"))
    parser.add_argument("--python", help="python3.13 for the built artifact (else found)")
    parser.add_argument(
        "--compare-ref",
        action="append",
        default=[],
        help="also cold-start functions/authapi as of this git ref, on the same layer "
        "(repeatable: before and after a change)",
    )
    args = parser.parse_args()
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "bench-probe.log").write_text("")

    python313 = find_python313(args.python)
    runner, source = artifact_runner(args.build_dir.resolve(), python313)
    if source["stale"]:
        print("bench: warning: the build differs from functions/authapi (make build-x86)")
    from authapi.key_material import generate_private_key_pem

    db = database()
    # the size infra/bootstrap-signing-key.sh generates: what production signs and verifies with
    pem = generate_private_key_pem(PRODUCTION_KEY_BITS)
    token = asyncio.run(_prepare_database(db.url, pem))
    ssm_endpoint, moto_server = start_ssm_stand_in()
    scratch = Path(tempfile.mkdtemp(prefix="authapi-bench-"))
    try:
        os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
        store_signing_key(ssm_endpoint, pem)
        env = probe_environment(db, ssm_endpoint, token)

        apps = [("app", runner)]
        apps += [
            (f"app@{ref}", runner.with_function(exported_function(ref, scratch), f"git {ref}"))
            for ref in args.compare_ref
        ]
        variants = [Variant(name, code, "app") for name, code in apps]
        # outside Lambda (make run, tests): Powertools switches the Tracer off
        variants += [Variant(f"{name}/local", code, "app", in_lambda=False) for name, code in apps]
        variants += [Variant(mode, runner, mode) for mode in ("hello", "deps", "floor")]
        cold = cold_starts(variants, env, args.repeat)
        profiles = {
            variant.name: import_profile(variant, env)
            for variant in variants
            if variant.mode == "app"
        }
        cold["instructions"] = instructions.count(runner, env)
        print("bench: warm latency", file=sys.stderr)
        warm, _, _ = runner.run("warm", env, "--invocations", str(args.invocations))
        warm["invocations"] = args.invocations

        print("bench: round trips", file=sys.stderr)
        proxy_dir = tempfile.mkdtemp(prefix="pgw-")
        counted_env = {
            **env,
            "AUTHAPI_DATABASE_URL": proxied_url(db.url, proxy_dir),
            "BENCH_PROXY_DIR": proxy_dir,
            "BENCH_UPSTREAM": db.upstream,
        }
        round_trips, _, _ = runner.run("roundtrips", counted_env)
        shutil.rmtree(proxy_dir, ignore_errors=True)
    finally:
        moto_server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

    deploy_dir = args.deploy_build_dir.resolve()
    print(f"bench: sizes of {deploy_dir}", file=sys.stderr)
    report = {
        "machine": {**machine(warm.get("python")), "postgresql": db.server_version},
        "source": source,
        "compare_refs": args.compare_ref,
        "compare_ref_subjects": {ref: commit_subject(ref) for ref in args.compare_ref},
        "cold_start": cold,
        "imports": profiles,
        "warm": warm,
        "round_trips": round_trips,
        "sizes": sizes.measure(deploy_dir) if deploy_dir.is_dir() else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_summary(report)
    print(f"\nbench: wrote {args.out}")


if __name__ == "__main__":
    main()
