"""The floors section of docs/benchmarks.md, and each target's floor for the Targets table.

A floor is the figure the bare libraries reach for the same work in the same run
(devtools/bench/floors.py): if a target lies below its floor, no implementation on this stack
can meet it, and the table says so with both figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Floors:
    hello: float  # hello's p50, interleaved with /me and the bare statements
    me: float  # /me through the handler, in the same loop
    verify: float
    read: float  # /me's statement on bare asyncpg
    hit: float  # refresh's rate-limit hit on bare asyncpg (a committed write)
    rotation: float  # refresh's rotation on bare asyncpg (a committed write)
    powertools: dict[str, float]
    sign: float

    @property
    def me_floor(self) -> float:
        return self.hello + self.verify + self.read

    @property
    def refresh_unsigned_floor(self) -> float:
        return self.hello + self.hit + self.rotation

    @property
    def stack_floor(self) -> float:
        return sum(self.powertools.values())


def floors(report: dict[str, Any]) -> Floors | None:
    warm = report["warm"]
    data = warm.get("floors")
    if not data:
        return None
    statements = data["statements"]
    return Floors(
        hello=data["interleaved"]["hello"]["p50_ms"],
        me=data["interleaved"]["me"]["p50_ms"],
        verify=data["rsa_verify"]["p50_ms"],
        read=statements["me_read"]["p50_ms"],
        hit=statements["refresh_hit"]["p50_ms"],
        rotation=statements["refresh_rotation"]["p50_ms"],
        powertools={name: stats["p50_ms"] for name, stats in data["powertools"].items()},
        sign=warm["signing"]["sign"]["p50_ms"],
    )


def verdict(measured: float, target: float, floor: float | None) -> str:
    """met, or not met with the floor said: reachable, or below what the stack can do."""
    if measured <= target:
        return "met"
    if floor is None:
        return "**not met**"
    if floor > target:
        return f"**cannot be met**: floor {floor:.2f}"
    return f"**not met**: floor {floor:.2f}, reachable"


POWERTOOLS_NAMES = {
    "logger_inject_lambda_context": "Logger.inject_lambda_context (correlation id, clear_state)",
    "metrics_log_metrics": "Metrics.log_metrics (flush, no metric added)",
    "tracer_capture_lambda_handler": "Tracer.capture_lambda_handler (unsampled trace header)",
    "json_log_line": "one JSON log line through a bare Powertools Logger (no redaction)",
}


def section(report: dict[str, Any]) -> list[str]:
    found = floors(report)
    if found is None:
        return []
    f = found
    warm = report["warm"]
    hello, stack = warm["overhead"]["bare"]["p50_ms"], warm["overhead"]["authapi"]["p50_ms"]
    me = warm["endpoints"]["me"]["p50_ms"]
    lines = [
        "",
        "## Floors: the same work on the bare libraries",
        "",
        "Measured in the warm probe (devtools/bench/floors.py), interleaved with the real "
        "requests. The statements are the ones the app sent, captured from SQLAlchemy and "
        "replayed with their parameters on a bare asyncpg connection to the same server, with "
        "the statement cache off as the app's (an unnamed prepare, then the execute: 2 round "
        "trips). The rotation's rows are put back before each replay, so each one rotates a "
        "live token and commits, as a refresh does.",
        "",
        "| piece | p50 |",
        "|---|---:|",
        f"| hello (FastAPI + Mangum, a constant), in this loop | {f.hello:.3f} ms |",
        f"| `/me` through the handler, in this loop | {f.me:.3f} ms |",
        f"| RS256 verify alone (cryptography, {warm['signing']['key_bits']}-bit) | "
        f"{f.verify:.3f} ms |",
        f"| `/me`'s statement on bare asyncpg (a read, autocommit) | {f.read:.3f} ms |",
        f"| refresh's rate-limit hit on bare asyncpg (a write: commit and WAL flush) | "
        f"{f.hit:.3f} ms |",
        f"| refresh's rotation on bare asyncpg (a write: commit and WAL flush) | "
        f"{f.rotation:.3f} ms |",
        f"| access token signing (RS256, the app's issue_access_token) | {f.sign:.3f} ms |",
    ]
    lines += [
        f"| {POWERTOOLS_NAMES.get(name, name)} | {value:.3f} ms |"
        for name, value in f.powertools.items()
    ]
    lines += [
        "",
        f"- **`/me` floor** = hello + verify + bare read = {f.me_floor:.3f} ms = "
        f"{f.me_floor / f.hello:.2f} x hello; `/me` measured {f.me:.3f} ms = "
        f"{f.me / f.hello:.2f} x hello in the same loop, so authapi's own share (SQLAlchemy, "
        f"FastAPI's dependencies, the middleware, the response model) is "
        f"{f.me - f.me_floor:.3f} ms.",
        f"- **Refresh floor** without signing = hello + the two bare writes = "
        f"{f.refresh_unsigned_floor:.3f} ms = {f.refresh_unsigned_floor / me:.2f} x the "
        f"measured `/me` ({me:.3f} ms; a `/me` nearer its floor would only raise the ratio), "
        f"{f.refresh_unsigned_floor / f.me_floor:.2f} x the `/me` floor: each write waits for its "
        f"commit's WAL flush, which `/me`'s read does not ({f.hit:.3f} and {f.rotation:.3f} ms "
        f"against {f.read:.3f} ms). The flush is this machine's disk: it varies from run to run "
        "far more than anything else here, and on RDS it is storage replication, not a local "
        "fsync.",
        f"- **Middleware floor** = the Powertools decorators and one JSON line = "
        f"{f.stack_floor:.3f} ms; measured stack + logging {stack - hello:.3f} ms (hello "
        f"{hello:.3f} ms, the same route through authapi's handler {stack:.3f} ms).",
    ]
    return lines
