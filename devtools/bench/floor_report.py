"""The floors section of docs/benchmarks.md, and each target's floor for the Targets table.

A floor is the figure the bare libraries reach for the same work in the same run
(devtools/bench/floors.py): if a target lies below its floor, no implementation on this stack
can meet it, and the table says so with both figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

OVERHEAD_RATIO_TARGET = 1.5  # the middleware stack + logging, over hello's warm p50

# the Powertools pieces a warm, unsampled invocation does not go through
SKIPPED_WHEN_UNSAMPLED = frozenset({"tracer_capture_lambda_handler"})


@dataclass(frozen=True)
class Floors:
    hello: float  # hello's p50, interleaved with /me and the bare statements
    me: float  # /me through the handler, in the same loop
    verify: float
    read: float  # /me's statement on bare psycopg
    hit: float  # refresh's rate-limit hit on bare psycopg (a committed write)
    rotation: float  # refresh's rotation on bare psycopg (a committed write)
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
        # what a warm invocation wears: the bench's trace header is unsampled, and the handler
        # skips the Tracer for those after the first (authapi.handlers.lambda_app)
        return sum(
            value for name, value in self.powertools.items() if name not in SKIPPED_WHEN_UNSAMPLED
        )


def stack_floor_in_its_loop(report: dict[str, Any]) -> float | None:
    """What hello wearing the Powertools decorators and one bare JSON line costs over hello,
    measured in the stack's own loop (probe.stack_overhead): None in reports from before."""
    overhead = report["warm"]["overhead"]
    if "powertools" not in overhead:
        return None
    return float(overhead["powertools"]["p50_ms"] - overhead["bare"]["p50_ms"])


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
    "tracer_capture_lambda_handler": "Tracer.capture_lambda_handler (unsampled trace header; "
    "the handler skips it for unsampled invocations after the first: not in the middleware floor)",
    "json_log_line": "one JSON log line through a bare Powertools Logger to stdout (no redaction)",
}


def section(report: dict[str, Any]) -> list[str]:
    found = floors(report)
    if found is None:
        return []
    f = found
    warm = report["warm"]
    me = warm["endpoints"]["me"]["p50_ms"]
    lines = [
        "",
        "## Floors: the same work on the bare libraries",
        "",
        "Measured in the warm probe (devtools/bench/floors.py), interleaved with the real "
        "requests. The statements are the ones the app sent, captured from SQLAlchemy and "
        "replayed with their parameters on a bare psycopg connection to the same server, with "
        "server-side prepares off and autocommit as the app's (one unnamed round trip each). "
        "The rotation's rows are put back before each replay, so each one rotates a "
        "live token and commits, as a refresh does.",
        "",
        "| piece | p50 |",
        "|---|---:|",
        f"| hello (FastAPI + Mangum, a constant), in this loop | {f.hello:.3f} ms |",
        f"| `/me` through the handler, in this loop | {f.me:.3f} ms |",
        f"| RS256 verify alone (cryptography, {warm['signing']['key_bits']}-bit) | "
        f"{f.verify:.3f} ms |",
        f"| `/me`'s statement on bare psycopg (a read, autocommit) | {f.read:.3f} ms |",
        f"| refresh's rate-limit hit on bare psycopg (a write: commit and WAL flush) | "
        f"{f.hit:.3f} ms |",
        f"| refresh's rotation on bare psycopg (a write: commit and WAL flush) | "
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
        _middleware_floor_bullet(report, f),
    ]
    return lines


def _middleware_floor_bullet(report: dict[str, Any], f: Floors) -> str:
    warm = report["warm"]
    hello, stack = warm["overhead"]["bare"]["p50_ms"], warm["overhead"]["authapi"]["p50_ms"]
    pieces = (
        f"the Powertools decorators a warm unsampled invocation goes through and one JSON "
        f"line, each alone in this loop, sum to {f.stack_floor:.3f} ms"
    )
    same_loop = stack_floor_in_its_loop(report)
    if same_loop is None:
        return (
            f"- **Middleware floor**: {pieces}; measured stack + logging "
            f"{stack - hello:.3f} ms (hello {hello:.3f} ms, the same route through authapi's "
            f"handler {stack:.3f} ms)."
        )
    return (
        f"- **Middleware floor** = hello wearing those decorators and writing one bare JSON "
        f"line, in the stack's own loop: {same_loop:.3f} ms over hello "
        f"({same_loop / hello:.2f} x hello's {hello:.3f} ms); measured stack + logging "
        f"{stack - hello:.3f} ms = {(stack - hello) / hello:.2f} x (the same route through "
        f"authapi's handler {stack:.3f} ms). Apart: {pieces}."
    )


def _middleware_reason(report: dict[str, Any], f: Floors) -> str:
    warm = report["warm"]
    hello, stack = warm["overhead"]["bare"]["p50_ms"], warm["overhead"]["authapi"]["p50_ms"]
    floor = stack_floor_in_its_loop(report)
    if floor is None:
        floor = f.stack_floor
    reach = (
        f"so {OVERHEAD_RATIO_TARGET} x cannot be met while the handler wears them"
        if floor / hello > OVERHEAD_RATIO_TARGET
        else f"which leaves {OVERHEAD_RATIO_TARGET * hello - floor:.3f} ms of the "
        f"{OVERHEAD_RATIO_TARGET} x for all "
        "authapi adds to them"
    )
    return (
        f"- **Middleware stack + logging**: {stack - hello:.3f} ms over hello's {hello:.3f} ms, "
        f"{(stack - hello) / hello:.2f} x; Powertools' decorators and one bare JSON log line "
        f"alone cost {floor:.3f} ms, {floor / hello:.2f} x, {reach}. The "
        f"{stack - hello - floor:.3f} ms above that floor are authapi's: the access line's "
        "request fields and redaction, the invocation's EMF blob (latency and status by "
        "function version), its pure ASGI middleware (request id, security and deprecation "
        "headers, trusted hosts, body limit, tenant paths, errors), Starlette's CORS and "
        "GZip, and FastAPI matching the route among all of authapi's where hello has one."
    )


ROUND_TRIPS_REASON = (
    "- **Round trips**: psycopg sends each statement unnamed, Parse + Bind + Execute + Sync in "
    "one flight (server-side prepares off: a named statement pins the client to one RDS Proxy "
    "connection), so each statement is one round trip and each endpoint is at its statement "
    "budget. With asyncpg (before) each statement was two: a prepare, then an execute."
)


def _package_ms(section: dict[str, Any], package: str) -> float:
    return float(
        sum(row["self_ms"] for row in section["top_packages"] if row["package"] == package)
    )


def _cold_reason(report: dict[str, Any]) -> str:
    variants = report["cold_start"]["variants"]
    app, deps = variants["app"]["median_ms"], variants["deps"]["median_ms"]
    imports = report.get("imports", {}).get("app")
    own = f"{_package_ms(imports['handler_import'], 'authapi'):.0f} ms" if imports else "?"
    late = f"{imports['first_request']['total_ms']:.0f} ms" if imports else "?"
    return (
        f"- **Cold start against the dependency set**: {app['total']:.0f} ms against "
        f"{deps['total']:.0f} ms, {app['total'] - deps['total']:.0f} ms more. The import is "
        f"{app['import']:.0f} ms against {deps['import']:.0f} ms (the set's includes boto3 and "
        "the X-Ray SDK, which the app never imports or imports on its first invocation); the "
        f"first request is {app['first_request']:.0f} ms, and its imports (psycopg, botocore's "
        f"signer, urllib3, the X-Ray SDK: {late} under `-X importtime`) are in the set already. "
        f"What authapi adds is its own modules, {own} of own time under `-X importtime`, and "
        "the first request's own work (the SSM round trip, the key parse, the connection and "
        "SQLAlchemy's first-connect queries, FastAPI building `/me`'s route). Its modules are "
        "now only what a first `/api/v1/auth/me` needs: register, login, refresh and logout, "
        "the routers of the account lifecycle, MFA, events, admin, tenants and OAuth, and the "
        "deprecated `/api/auth/...` copies, are imported and declared on their first request "
        "(authapi.middleware.deferred_routes), a bearer token is checked without the flows "
        "(authapi.auth.principal), and FastAPI no longer imports pydantic.v1 "
        "(authapi.handlers.fastapi_compat). What remains is spread over many modules: the "
        "settings class (96 validated fields: about 120 M instructions, built and "
        "read), the ORM models those routes name (declarative mapping of 14 tables and their "
        "configuration), `/me`'s, the sessions', health and key routes with their models, and "
        "the repositories behind them. The set also leaves out what any app on SQLAlchemy and "
        "PostgreSQL imports beyond `sqlalchemy.orm`: the PostgreSQL dialect package, whose "
        "`__init__` imports every PostgreSQL driver's dialect. "
        + _instructions_note(report)
        + "This "
        "machine's noise moves the ratio by about a tenth from one run to the next."
    )


def _instructions_note(report: dict[str, Any]) -> str:
    counted = report["cold_start"].get("instructions")
    if not counted:
        return ""
    return (
        f"Counted in instructions, which this machine's noise does not move, the ratio is "
        f"{counted['ratio']:.3f}. "
    )


def reasons(report: dict[str, Any], unmet: set[str]) -> list[str]:
    """Why each target that is not met is not, in this run's figures. `unmet` names them:
    round_trips, cold_start, me, refresh, stack."""
    lines = ["Where a target is not met:", ""]
    if "round_trips" in unmet:
        lines.append(ROUND_TRIPS_REASON)
    if "cold_start" in unmet:
        lines.append(_cold_reason(report))
    found = floors(report)
    if found is None:
        return lines
    f = found
    warm = report["warm"]
    hello = warm["overhead"]["bare"]["p50_ms"]
    me = warm["endpoints"]["me"]["p50_ms"]
    refresh = warm["endpoints"]["refresh"]["p50_ms"]
    me_reach = (
        "6 x cannot be met on this stack"
        if (hello + f.verify + f.read) / hello > 6
        else "6 x is within reach only of an implementation that adds almost nothing to the "
        "bare calls"
    )
    writes = (
        f"its two statements both write, and each commit waits for its WAL flush: on bare "
        f"asyncpg they take {f.hit:.2f} + {f.rotation:.2f} ms (`/me`'s read: {f.read:.2f} ms), "
        f"with hello's {f.hello:.2f} ms {f.refresh_unsigned_floor / me:.2f} x the measured "
        f"`/me` ({me:.2f} ms)"
    )
    if f.refresh_unsigned_floor / me > 2:
        refresh_bullet = (
            f"- **Refresh against `/me`**: {writes}, before any signing or any of authapi's "
            f"work (refresh measured {refresh:.2f} ms), so 2 x cannot be met in this run. "
            "Folding the two into one statement would lose the rate-limit hit's independence "
            "(it must commit even when the refresh then fails). The flush is this machine's "
            "disk, the figure that varies most from run to run."
        )
    else:
        refresh_bullet = (
            f"- **Refresh against `/me`**: {writes}; reachable in this run (the flush is this "
            "machine's disk, the figure that varies most from run to run). The rest of the "
            "refresh's "
            f"{refresh - f.sign - f.refresh_unsigned_floor:.2f} ms beyond signing and that "
            "floor is authapi's: the JSON body read and validated, the rate-limit dependency, "
            "both statements through SQLAlchemy's session, the successor token's HMACs, the "
            "response, its metric line, and the middleware stack below; a faster `/me` only "
            "raises the ratio."
        )
    bullets = [
        f"- **Warm `/me` against hello**: the floor (hello, one RS256 verify, `/me`'s statement "
        f"on bare psycopg) is {(hello + f.verify + f.read) / hello:.2f} x hello's "
        f"{hello:.3f} ms ({f.me_floor / f.hello:.2f} x in the loop that interleaves them with "
        f"the database, where hello is slower): {me_reach}; `/me` is {f.me / f.hello:.2f} x "
        f"in that loop, {f.me - f.me_floor:.2f} ms over its floor. That share is SQLAlchemy "
        "(an AsyncSession, a pool checkout and an "
        "ORM row where the floor has one psycopg call), FastAPI's routing and dependencies, "
        "and the middleware stack below. Behind RDS Proxy the statement's round trip adds "
        "network time to every design alike.",
        refresh_bullet,
        _middleware_reason(report, f),
    ]
    for name, bullet in zip(("me", "refresh", "stack"), bullets, strict=True):
        if name in unmet:
            lines.append(bullet)
    return lines
