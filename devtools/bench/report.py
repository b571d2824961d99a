"""docs/benchmarks.md from .local/reports/bench.json, so the page only ever shows measured figures.

Usage: python -m devtools.bench.report [--json .local/reports/bench.json] [--out docs/...]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

DEFAULT_JSON = Path(".local/reports/bench.json")
DEFAULT_OUT = Path("docs/benchmarks.md")

# what each statement count is held to (docs/benchmarks.md explains why)
# the budget tests/integration/test_request_budget.py asserts
STATEMENT_TARGETS = {"me": 1, "logout": 1, "refresh": 2, "login": 3, "register": 2}

VARIANT_NOTES = {
    "app": "authapi: handler imported, first `GET /api/auth/me` answered",
    "app+pyc": "the same, with the function's modules precompiled (what-if, see below)",
    "hello": "baseline: minimal FastAPI + Mangum app, `GET /hello` answered",
    "deps": "baseline: bare import of the dependency set, no app",
    "floor": "baseline: the interpreter starting, nothing imported",
}


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def _variant_note(name: str) -> str:
    base, _, place = name.partition("/")
    code, _, ref = base.partition("@")
    note = VARIANT_NOTES.get(code, code)
    if ref:
        note = f"authapi as of `{ref}` (same layer), first `/me` answered"
    if place == "local":
        note += "; outside Lambda (Tracer off)"
    return note


def _machine(report: dict[str, Any]) -> list[str]:
    machine = report["machine"]
    source = report["source"]
    dirty = " (with uncommitted changes in functions/)" if machine["functions_dirty"] else ""
    stale = (
        " **The build differed from functions/: run make build-x86.**" if source["stale"] else ""
    )
    return [
        "| | |",
        "|---|---|",
        f"| measured | {machine['date']}, commit `{machine['commit']}`{dirty} |",
        f"| CPU | {machine['cpu']}, {machine['cores']} cores (shared, noisy) |",
        f"| platform | {machine['platform']} |",
        f"| Python | probe {machine['probe_python']}, orchestrator "
        f"{machine['orchestrator_python']} |",
        f"| PostgreSQL | {machine['postgresql']} (embedded, unix socket) |",
        f"| code measured | {source['description']}{stale} |",
    ]


def _cold(report: dict[str, Any]) -> list[str]:
    cold = report["cold_start"]
    variants = cold["variants"]
    app = variants["app"]["median_ms"]
    lines = [
        f"{cold['repeat']} fresh processes per variant, interleaved; medians unless marked. "
        "*Wall* runs from spawning the process to the answer: *import* is the handler module's "
        "import (or the baseline's), *first request* the first invocation, which reads the "
        "signing key from SSM and opens the database connection. *CPU* is the process's own CPU "
        "time up to the answer (interpreter start-up included): it leaves out waiting on SSM and "
        "PostgreSQL, and it is what this shared machine's noise moves least, so compare "
        "variants by it first.",
        "",
        "| variant | what | wall | wall, min | import | first request | CPU "
        "| app / this (wall, CPU) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, variant in variants.items():
        median = variant["median_ms"]
        wall_ratio = app["total"] / median["total"] if median["total"] else 0
        cpu_ratio = app["cpu_total"] / median["cpu_total"] if median["cpu_total"] else 0
        lines.append(
            f"| `{name}` | {_variant_note(name)} | {median['total']:.0f} ms | "
            f"{variant['min_ms']['total']:.0f} ms | {median['import']:.0f} ms | "
            f"{median['first_request']:.0f} ms | {median['cpu_total']:.0f} ms | "
            f"{wall_ratio:.2f}, {cpu_ratio:.2f} |"
        )
    ratios, cpu = cold["ratios"], cold["cpu_ratios"]
    lines += [
        "",
        f"**authapi's cold start is {ratios['app/hello']} times the minimal FastAPI + Mangum "
        f"app's and {ratios['app/deps']} times a bare import of its dependencies** in wall time "
        f"({app['total']:.0f} ms against {variants['hello']['median_ms']['total']:.0f} ms and "
        f"{variants['deps']['median_ms']['total']:.0f} ms), {cpu['app/hello']} and "
        f"{cpu['app/deps']} times in CPU time, all measured in the same run.",
    ]
    return lines


def _before_after(report: dict[str, Any]) -> list[str]:
    refs = report.get("compare_refs") or []
    if not refs:
        return []
    variants = report["cold_start"]["variants"]
    lines = [
        "",
        "### Before and after, same run",
        "",
        "Each ref's `functions/authapi` exported from git and started on the same built layer, "
        "interleaved with everything else (medians; CPU split into import and first request).",
        "",
        "| code | in Lambda: wall | CPU | CPU import | CPU first request "
        "| outside Lambda: wall | CPU | CPU import | CPU first request |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in [f"app@{ref}" for ref in refs] + ["app"]:
        cells = []
        for key in (name, f"{name}/local"):
            median = variants[key]["median_ms"]
            cells.append(
                f"{median['total']:.0f} ms | {median['cpu_total']:.0f} ms | "
                f"{median['cpu_import']:.0f} ms | {median['cpu_first_request']:.0f} ms"
            )
        ref = name.partition("@")[2]
        subject = (report.get("compare_ref_subjects") or {}).get(ref, "")
        label = f"`{ref}` {subject}".strip() if ref else "the build measured above"
        lines.append(f"| {label} | {cells[0]} | {cells[1]} |")
    return lines


def _imports(report: dict[str, Any]) -> list[str]:
    profile = report["imports"]["app"]
    handler, first = profile["handler_import"], profile["first_request"]
    lines = [
        "",
        "### What the cold start spends its imports on",
        "",
        f"`python -X importtime` on the `app` variant (importtime itself slows imports down): "
        f"importing the handler loads {handler['modules']} modules "
        f"({handler['total_ms']:.0f} ms); the first request imports {first['modules']} more "
        f"({first['total_ms']:.0f} ms).",
        "",
        "| package (handler import) | own time | | package (first request) | own time |",
        "|---|---:|---|---|---:|",
    ]
    left, right = handler["top_packages"][:12], first["top_packages"][:12]

    def cells(items: list[dict[str, Any]], index: int) -> str:
        if index >= len(items):
            return " | "
        return f"{items[index]['package']} | {items[index]['self_ms']:.0f} ms"

    for index in range(max(len(left), len(right))):
        lines.append(f"| {cells(left, index)} | | {cells(right, index)} |")
    lines += [
        "",
        "Top modules by cumulative time (nested imports included):",
        "",
        "| module | cumulative |",
        "|---|---:|",
    ]
    lines += [
        f"| `{item['module']}` | {item['cumulative_ms']:.0f} ms |"
        for item in handler["top_cumulative"][:12]
    ]
    return lines


def _warm(report: dict[str, Any]) -> list[str]:
    warm = report["warm"]
    argon2 = warm["argon2"]
    parameters = argon2["parameters"]
    lines = [
        "",
        "## Warm latency through the handler",
        "",
        f"{warm['invocations']} invocations per endpoint on one warm execution environment "
        "(the handler called directly with API Gateway HTTP API events: no HTTP, no network "
        "between the function and PostgreSQL but a unix socket).",
        "",
        "| endpoint | p50 | p90 | p99 | mean | max |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for endpoint, stats in warm["endpoints"].items():
        lines.append(
            f"| {endpoint} | {stats['p50_ms']:.1f} ms | {stats['p90_ms']:.1f} ms | "
            f"{stats['p99_ms']:.1f} ms | {stats['mean_ms']:.1f} ms | {stats['max_ms']:.1f} ms |"
        )
    lines += [
        "",
        f"argon2id alone (m={parameters['memory_cost_kib']} KiB, t={parameters['time_cost']}, "
        f"p={parameters['parallelism']}; {argon2['hash']['n']} calls each, no event loop): "
        f"hash p50 {argon2['hash']['p50_ms']:.1f} ms (p90 {argon2['hash']['p90_ms']:.1f}), "
        f"verify p50 {argon2['verify']['p50_ms']:.1f} ms (p90 {argon2['verify']['p90_ms']:.1f}). "
        "Register hashes once and login verifies once, so most of their latency is argon2, "
        "by design.",
    ]
    return lines


def _round_trips(report: dict[str, Any]) -> list[str]:
    data = report["round_trips"]
    lines = [
        "",
        "## Database round trips per request",
        "",
        "*Statements* are what SQLAlchemy executes (`before_cursor_execute`). *Round trips* are "
        "counted on the wire by a proxy between the app and PostgreSQL: every message the "
        "client then waits on. asyncpg turns each statement into two (prepare, then execute: "
        "the statement cache is off so RDS Proxy never pins). A request's statements "
        "autocommit (no BEGIN/COMMIT) and the pool does not pre-ping (a pre-ping would be "
        "BEGIN, `;` prepared and executed, ROLLBACK); both columns stay to show they are 0. "
        "Budget: tests/integration/test_request_budget.py.",
        "",
        "| endpoint | statements (target) | round trips | pre-ping | BEGIN/COMMIT | prepare "
        "| execute |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for endpoint, counts in data["endpoints"].items():
        purpose = counts["by_purpose"]
        target = STATEMENT_TARGETS.get(endpoint)
        target_text = f" (≤ {target})" if target else ""
        low, high = counts["round_trips_range"]
        spread = f" ({low} to {high})" if low != high else ""
        lines.append(
            f"| {endpoint} | {counts['statements']}{target_text} | {counts['round_trips']}"
            f"{spread} | {purpose.get('pre_ping', 0)} | {purpose.get('transaction', 0)} | "
            f"{purpose.get('prepare', 0)} | {purpose.get('execute', 0)} |"
        )
    first = data["first_request_me"]
    lines += [
        "",
        f"The first `/me` after a cold start: {first['statements']} statement(s), "
        f"{first['round_trips']} round trips (connection setup and SQLAlchemy's first-connect "
        "queries included).",
        "",
        "<details><summary>The round trips, in order</summary>",
        "",
    ]
    for endpoint, counts in data["endpoints"].items():
        lines.append(f"- **{endpoint}**: " + " → ".join(f"`{x}`" for x in counts["sequence"]))
    lines += ["", "</details>"]
    return lines


def _sizes(report: dict[str, Any]) -> list[str]:
    sizes = report.get("sizes")
    if not sizes:
        return ["", "## Deployment size", "", "Not measured: no build at `.aws-sam/build`."]
    lines = [
        "",
        "## Deployment size",
        "",
        "The deployed arm64 build (`.aws-sam/build`), unzipped and zipped (DEFLATED) the way it "
        "is uploaded.",
        "",
        "| artifact | files | .pyc | unzipped | zipped |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, artifact in sizes["artifacts"].items():
        lines.append(
            f"| {name} | {artifact['files']} | {artifact['pyc_files']} | "
            f"{_mib(artifact['unzipped_bytes'])} | {_mib(artifact['zipped_bytes'])} |"
        )
    layer = sizes["artifacts"].get("DependenciesLayer")
    used = sizes["api_function_with_layer_unzipped_bytes"]
    lines += [
        "",
        f"The API function with its layer takes {_mib(used)} of Lambda's "
        f"{_mib(sizes['unzipped_limit_bytes'])} unzipped limit.",
    ]
    if layer:
        largest = ", ".join(f"{item['name']} {_mib(item['bytes'])}" for item in layer["largest"])
        lines += ["", f"Largest in the layer: {largest}."]
    return lines


MEANING = """
## What these numbers mean, and what they don't

- **Local cold start is not Lambda's.** Here the process starts on a warm page cache, on
  x86_64, with whatever CPU the shared machine gives it. In Lambda the function runs on arm64
  with the CPU share its memory size buys (1024 MB: about 0.6 vCPU), the code is unpacked from
  S3 first, and the runtime itself takes its own time before the handler is imported. The SSM
  stand-in and PostgreSQL answer over loopback and a unix socket, where AWS adds network round
  trips (SSM, RDS Proxy with TLS and an IAM token). Read the absolute figures as "on this
  machine"; the ratios to the baselines, measured in the same run, travel better.
- **The baselines bound what is possible.** `deps` is the floor for any app on this stack: the
  cold start cannot drop below importing FastAPI, pydantic, SQLAlchemy and friends. The gap
  between `app` and `deps` is what authapi itself costs: its own modules (compiled from source on
  every cold start: the function ships no `.pyc`, and Lambda's code directory is read-only),
  building the app, and the first request's SSM read, key parsing and database connection.
- **`app+pyc` is a what-if**: the same code precompiled (`compileall --invalidation-mode
  unchecked-hash`), to show what shipping bytecode with the function would save. The build does
  not do this today.
- **"Outside Lambda" rows** are what `make run`, `make invoke` and the tests pay: Powertools
  switches the Tracer off there.
- **Before/after rows** (with `--compare-ref`) put only the function's code side by side, on the
  same layer and in the same run. Read their CPU columns: a change worth less than the wall-time
  noise still shows there, and the import/first-request split shows cost that moved rather than
  disappeared (an import the first request needs anyway only moves).
- **Warm latency** is the handler alone, one request at a time, on loopback PostgreSQL. It leaves
  out API Gateway and the network to RDS Proxy, where every round trip in the table above costs
  real time (typically a fraction of a millisecond each inside a VPC, more through a proxy): that
  table, not the warm latency, is the figure to carry over to AWS.
- **Nothing here is pass/fail.** The machine is shared; a single figure can be off by tens of
  percent. Compare figures from one run, or repeat with `--repeat`.

## Reproduce

```sh
make bench                                  # builds if needed, measures, rewrites this page
make bench BENCH_ARGS="--repeat 15"         # more cold starts per variant
make bench BENCH_ARGS="--compare-ref <before> --compare-ref <after>"   # before/after rows
```

`python -m devtools.bench --help` lists the options; the raw figures, every sample included, are
in `.local/reports/bench.json`. Rewrite this page from that file alone with
`python -m devtools.bench.report`.
"""


def render(report: dict[str, Any]) -> str:
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by `python -m devtools.bench.report` from .local/reports/bench.json "
        "(`make bench`). Do not edit by hand: the next run rewrites it. -->",
        "",
        *_machine(report),
        "",
        "## Cold start",
        "",
        *_cold(report),
        *_before_after(report),
        *_imports(report),
        *_warm(report),
        *_round_trips(report),
        *_sizes(report),
        MEANING.rstrip(),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    report = json.loads(args.json.read_text())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(report))
    print(f"bench: wrote {args.out}")


if __name__ == "__main__":
    main()
