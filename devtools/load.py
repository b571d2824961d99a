"""`make load`: the local cloud under a realistic mix for a bounded time; nothing may be lost.

Starts N local clouds (devtools.local_cloud: the real Lambda handler behind the API Gateway
stand-in, each limited to one execution environment: one request at a time) on one PostgreSQL,
the embedded one unless AUTHAPI_DATABASE_URL is set. Virtual users then register, log in, read
/me, refresh and log out, mostly /me and refresh, for --duration seconds. Each request goes to an
idle environment and waits for one when all are busy, as API Gateway hands each invocation to an
idle execution environment; Lambda would start more environments, this run stays at N, so the
wait shows in the latency (it is also reported on its own).

All traffic comes from 127.0.0.1, so the per-IP rate limits and the per-account login throttle
are raised for the run (the output says so); otherwise the run would measure 429s.

Afterwards it checks what the run wrote: every account whose registration got a 201 is in the
database and can log in through the API, every session still open can refresh with the last
token it was given, and every logged-out session's access token is refused. The exit status is 1
on any 5xx, transport error, unexpected status or lost write.

Usage: python -m devtools.load [--duration 30] [--environments 2] [--users 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx

from devtools.embedded_postgres import local_database
from devtools.local_stack import LOCAL_DIR, free_port
from devtools.stats import percentile

REPO = Path(__file__).resolve().parents[1]
REPORTS = LOCAL_DIR / "reports"
LOAD_DATABASE = "authapi_load"
UNLIMITED = "1000000"
RAISED_LIMITS = {
    "AUTHAPI_RATE_LIMIT_LOGIN": UNLIMITED,
    "AUTHAPI_RATE_LIMIT_REGISTER": UNLIMITED,
    "AUTHAPI_RATE_LIMIT_REFRESH": UNLIMITED,
    "AUTHAPI_LOGIN_MAX_FAILURES": UNLIMITED,
}
ENDPOINTS = ("register", "login", "me", "refresh", "logout")
DEFAULT_MIX = "me=50,refresh=25,login=10,logout=7,register=8"
EXPECTED = {"register": 201, "login": 200, "me": 200, "refresh": 200, "logout": 204}
MAX_SESSIONS_PER_USER = 4
STARTUP_TIMEOUT_SECONDS = 120


# ---- the execution environments ------------------------------------------------------------


@dataclass
class Environment:
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _log: IO[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # the local cloud stops its SSM stand-in
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def start_environment(index: int, env: dict[str, str]) -> Environment:
    port = free_port()
    log_path = REPORTS / f"load-env-{index}.log"
    log = log_path.open("wb")
    process = subprocess.Popen(
        # --concurrency 1: each cloud is exactly one execution environment
        [sys.executable, "-m", "devtools.local_cloud", "--port", str(port), "--concurrency", "1"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return Environment(f"http://127.0.0.1:{port}", process, log_path, log)


def wait_until_healthy(environment: Environment) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if environment.process.poll() is not None:
            break
        try:
            if httpx.get(environment.base_url + "/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    tail = environment.log_path.read_text(errors="replace")[-3000:]
    sys.exit(f"load: the local cloud at {environment.base_url} did not start:\n{tail}")


def start_environments(count: int, database_url: str) -> list[Environment]:
    env = {**os.environ, "AUTHAPI_DATABASE_URL": database_url, **RAISED_LIMITS}
    # the first one migrates the database; the rest start once it is at head, so that no two
    # run the migrations at once
    first = start_environment(0, env)
    environments = [first]
    try:
        wait_until_healthy(first)
        environments += [start_environment(index, env) for index in range(1, count)]
        for environment in environments[1:]:
            wait_until_healthy(environment)
    except BaseException:
        for environment in environments:
            environment.stop()
        raise
    return environments


# ---- the database -------------------------------------------------------------------------


def asyncpg_dsn(url: str) -> str:
    """The app's SQLAlchemy URL as a plain DSN, for the tool's own asyncpg connection."""
    for driver in ("postgresql+psycopg://", "postgresql+asyncpg://"):
        url = url.replace(driver, "postgresql://", 1)
    return url


def database_url() -> tuple[str, str]:
    """AUTHAPI_DATABASE_URL as it is, or a fresh database on the embedded server."""
    database = local_database(LOAD_DATABASE, fresh=True)
    return database.url, database.description


# ---- the traffic --------------------------------------------------------------------------


@dataclass
class Session:
    email: str
    access_token: str
    refresh_token: str


@dataclass
class Outcome:
    endpoint: str
    status: int | None  # None: no response (transport error)
    latency: float  # issued to answered, waiting for an idle environment included
    wait: float  # of which waiting for an idle environment


@dataclass
class Run:
    run_id: str
    password: str
    outcomes: list[Outcome] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)  # emails that got a 201
    open_sessions: list[Session] = field(default_factory=list)
    closed_sessions: list[Session] = field(default_factory=list)


class Dispatcher:
    """Sends each request to an idle environment, one request per environment at a time.

    First come, first served: a freed environment goes to the longest waiter. (An asyncio.Queue
    would let the user who just freed it take it straight back and starve the others.)
    """

    def __init__(self, client: httpx.AsyncClient, base_urls: list[str]):
        self.client = client
        self.idle: deque[str] = deque(base_urls)
        self.waiting: deque[asyncio.Future[str]] = deque()

    async def _acquire(self) -> str:
        if self.idle and not self.waiting:
            return self.idle.popleft()
        turn: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        return await turn

    def _release(self, base_url: str) -> None:
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(base_url)
                return
        self.idle.append(base_url)

    async def send(
        self, method: str, path: str, *, body: Any = None, token: str | None = None
    ) -> tuple[httpx.Response | None, float, float]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        issued = time.perf_counter()
        base_url = await self._acquire()
        waited = time.perf_counter() - issued
        try:
            response: httpx.Response | None = await self.client.request(
                method, base_url + path, json=body, headers=headers
            )
        except httpx.HTTPError:
            response = None
        finally:
            self._release(base_url)
        return response, time.perf_counter() - issued, waited


class VirtualUser:
    def __init__(self, number: int, run: Run, dispatcher: Dispatcher, mix: dict[str, int]):
        self.number = number
        self.run = run
        self.dispatcher = dispatcher
        self.mix = mix
        self.accounts: list[str] = []
        self.sessions: list[Session] = []
        self.serial = 0
        self.random = random.Random(f"{run.run_id}-{number}")  # noqa: S311 - traffic, not secrets

    def next_action(self) -> str:
        if not self.accounts:
            return "register"
        if not self.sessions:
            return "login"
        names = list(self.mix)
        action = self.random.choices(names, weights=[self.mix[name] for name in names])[0]
        if action == "login" and len(self.sessions) >= MAX_SESSIONS_PER_USER:
            return "logout"
        return action

    async def call(
        self, endpoint: str, method: str, path: str, **kwargs: Any
    ) -> httpx.Response | None:
        response, latency, waited = await self.dispatcher.send(method, path, **kwargs)
        status = response.status_code if response is not None else None
        self.run.outcomes.append(Outcome(endpoint, status, latency, waited))
        return response if status == EXPECTED[endpoint] else None

    async def act(self, action: str) -> None:
        if action == "register":
            self.serial += 1
            email = f"load-{self.run.run_id}-{self.number}-{self.serial}@example.com"
            body = {"email": email, "password": self.run.password}
            response = await self.call("register", "POST", "/api/auth/register", body=body)
            if response is not None:
                self.accounts.append(email)
                self.run.registered.append(email)
                self.sessions.append(self._session(email, response.json()))
        elif action == "login":
            email = self.random.choice(self.accounts)
            body = {"email": email, "password": self.run.password}
            response = await self.call("login", "POST", "/api/auth/login", body=body)
            if response is not None:
                self.sessions.append(self._session(email, response.json()))
        elif action == "me":
            session = self.random.choice(self.sessions)
            await self.call("me", "GET", "/api/auth/me", token=session.access_token)
        elif action == "refresh":
            session = self.random.choice(self.sessions)
            body = {"refresh_token": session.refresh_token}
            response = await self.call("refresh", "POST", "/api/auth/refresh-token", body=body)
            if response is not None:
                pair = response.json()
                session.access_token, session.refresh_token = (
                    pair["access_token"],
                    pair["refresh_token"],
                )
        elif action == "logout":
            session = self.random.choice(self.sessions)
            response = await self.call(
                "logout", "POST", "/api/auth/logout", token=session.access_token
            )
            if response is not None:
                self.sessions.remove(session)
                self.run.closed_sessions.append(session)

    @staticmethod
    def _session(email: str, body: dict[str, Any]) -> Session:
        return Session(email, body["access_token"], body["refresh_token"])

    async def drive(self, deadline: float) -> None:
        while time.perf_counter() < deadline:
            await self.act(self.next_action())
        self.run.open_sessions.extend(self.sessions)


async def warm_up(client: httpx.AsyncClient, base_urls: list[str], password: str) -> None:
    """One register and one login per environment, not measured: the first request of an
    environment reads the signing key from SSM and loads the password list, which is a cold
    start's cost, not the steady state this run measures."""
    for number, base_url in enumerate(base_urls):
        body = {"email": f"warm-{secrets.token_hex(6)}-{number}@example.com", "password": password}
        for path in ("/api/auth/register", "/api/auth/login"):
            response = await client.post(base_url + path, json=body)
            if response.status_code >= 300:
                sys.exit(f"load: warm-up {path} on {base_url} answered {response.status_code}")


async def generate_load(
    base_urls: list[str], *, users: int, duration: float, mix: dict[str, int], run: Run
) -> float:
    """Drive the environments for `duration` seconds; return the seconds the run really took."""
    # Connection: close: each cloud has one environment, as a Lambda environment serves one
    # invocation at a time; requests are spread by this driver, not by kept-alive connections
    limits = httpx.Limits(max_connections=users + len(base_urls), max_keepalive_connections=0)
    async with httpx.AsyncClient(
        timeout=30, limits=limits, headers={"connection": "close"}
    ) as client:
        await warm_up(client, base_urls, run.password)
        dispatcher = Dispatcher(client, base_urls)
        started = time.perf_counter()
        deadline = started + duration
        virtual_users = [VirtualUser(number, run, dispatcher, mix) for number in range(users)]
        await asyncio.gather(*(user.drive(deadline) for user in virtual_users))
        return time.perf_counter() - started


# ---- checking what was written --------------------------------------------------------------


async def verify(base_urls: list[str], run: Run, database: str, users: int) -> dict[str, Any]:
    """Every write the clients saw acknowledged is there, through the database and the API."""
    connection = await asyncpg.connect(asyncpg_dsn(database))
    try:
        rows = await connection.fetch(
            "SELECT email FROM users WHERE email LIKE $1", f"load-{run.run_id}-%"
        )
    finally:
        await connection.close()
    stored = {row["email"] for row in rows}
    missing_in_database = sorted(set(run.registered) - stored)

    failures: Counter[str] = Counter()
    limits = httpx.Limits(max_connections=users, max_keepalive_connections=0)
    async with httpx.AsyncClient(
        timeout=30, limits=limits, headers={"connection": "close"}
    ) as client:
        dispatcher = Dispatcher(client, base_urls)
        gate = asyncio.Semaphore(users)

        async def check(kind: str, expected: int, method: str, path: str, **kwargs: Any) -> None:
            async with gate:
                response, _, _ = await dispatcher.send(method, path, **kwargs)
            if response is None or response.status_code != expected:
                failures[kind] += 1

        checks = [
            check(
                "login",
                200,
                "POST",
                "/api/auth/login",
                body={"email": email, "password": run.password},
            )
            for email in run.registered
        ]
        checks += [
            check(
                "refresh",
                200,
                "POST",
                "/api/auth/refresh-token",
                body={"refresh_token": session.refresh_token},
            )
            for session in run.open_sessions
        ]
        checks += [
            check("logged_out", 401, "GET", "/api/auth/me", token=session.access_token)
            for session in run.closed_sessions
        ]
        await asyncio.gather(*checks)
    return {
        "registered": len(run.registered),
        "in_database": len(stored),
        "missing_in_database": missing_in_database,
        "logins_checked": len(run.registered),
        "logins_failed": failures["login"],
        "open_sessions_checked": len(run.open_sessions),
        "open_sessions_failed_refresh": failures["refresh"],
        "closed_sessions_checked": len(run.closed_sessions),
        "closed_sessions_still_accepted": failures["logged_out"],
    }


# ---- the report ---------------------------------------------------------------------------


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


def endpoint_stats(outcomes: list[Outcome], elapsed: float) -> dict[str, Any]:
    stats: dict[str, Any] = {}
    for endpoint in (*ENDPOINTS, "total"):
        chosen = [o for o in outcomes if endpoint in ("total", o.endpoint)]
        if not chosen:
            continue
        latencies = [o.latency for o in chosen]
        service = [o.latency - o.wait for o in chosen]
        statuses = Counter(str(o.status) for o in chosen)
        stats[endpoint] = {
            "requests": len(chosen),
            "per_second": round(len(chosen) / elapsed, 1),
            "errors": sum(1 for o in chosen if o.status != EXPECTED.get(o.endpoint)),
            "server_errors": sum(1 for o in chosen if o.status is not None and o.status >= 500),
            "transport_errors": sum(1 for o in chosen if o.status is None),
            "statuses": dict(statuses),
            "p50_ms": _ms(percentile(latencies, 0.50)),
            "p99_ms": _ms(percentile(latencies, 0.99)),
            "max_ms": _ms(max(latencies)),
            "service_p50_ms": _ms(percentile(service, 0.50)),
            "service_p99_ms": _ms(percentile(service, 0.99)),
            "mean_wait_ms": _ms(statistics.fmean(o.wait for o in chosen)),
        }
    return stats


def problems_in(stats: dict[str, Any], checks: dict[str, Any]) -> list[str]:
    total = stats["total"]
    problems = []
    if total["server_errors"]:
        problems.append(f"{total['server_errors']} responses were 5xx")
    if total["transport_errors"]:
        problems.append(f"{total['transport_errors']} requests got no response")
    unexpected = total["errors"] - total["server_errors"] - total["transport_errors"]
    if unexpected:
        problems.append(f"{unexpected} responses had an unexpected status")
    if checks["missing_in_database"]:
        problems.append(f"{len(checks['missing_in_database'])} registered accounts are missing")
    for key, what in (
        ("logins_failed", "registered accounts cannot log in"),
        ("open_sessions_failed_refresh", "open sessions cannot refresh"),
        ("closed_sessions_still_accepted", "logged-out sessions are still accepted"),
    ):
        if checks[key]:
            problems.append(f"{checks[key]} {what}")
    return problems


def print_report(report: dict[str, Any]) -> None:
    config = report["config"]
    print(
        f"\nload: {report['elapsed_seconds']:.1f} s, {config['users']} virtual users, "
        f"{config['environments']} execution environments (local cloud processes), "
        f"mix {config['mix']}"
    )
    print(f"database: {config['database']}")
    print(
        "rate limits raised for this run (all traffic comes from 127.0.0.1): "
        + ", ".join(f"{name}={value}" for name, value in config["raised_limits"].items())
    )
    print(
        f"\n{'endpoint':<10}{'requests':>9}{'req/s':>8}{'errors':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'service p50':>13}{'service p99':>13}{'wait ms':>9}"
    )
    for endpoint, row in report["endpoints"].items():
        print(
            f"{endpoint:<10}{row['requests']:>9}{row['per_second']:>8}{row['errors']:>8}"
            f"{row['p50_ms']:>9}{row['p99_ms']:>9}{row['service_p50_ms']:>13}"
            f"{row['service_p99_ms']:>13}{row['mean_wait_ms']:>9}"
        )
    checks = report["verification"]
    print(
        f"\nwrites: {checks['registered']} registrations acknowledged, {checks['in_database']} "
        f"in the database, {checks['logins_checked'] - checks['logins_failed']}/"
        f"{checks['logins_checked']} log in; "
        f"{checks['open_sessions_checked'] - checks['open_sessions_failed_refresh']}/"
        f"{checks['open_sessions_checked']} open sessions refresh; "
        f"{checks['closed_sessions_checked'] - checks['closed_sessions_still_accepted']}/"
        f"{checks['closed_sessions_checked']} logged-out sessions refused"
    )
    if report["problems"]:
        print("load: FAILED: " + "; ".join(report["problems"]))
    else:
        print("load: passed: no 5xx, no errors, no lost writes")


def parse_mix(text: str) -> dict[str, int]:
    mix = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in ENDPOINTS or not weight.strip().isdigit():
            raise argparse.ArgumentTypeError(f"bad mix entry {part!r}: use e.g. {DEFAULT_MIX}")
        mix[name.strip()] = int(weight)
    return mix


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--environments", type=int, default=2, help="local cloud processes")
    parser.add_argument("--users", type=int, default=None, help="virtual users (2 per env)")
    parser.add_argument("--mix", type=parse_mix, default=parse_mix(DEFAULT_MIX))
    parser.add_argument("--out", type=Path, default=REPORTS / "load.json")
    args = parser.parse_args()
    users = args.users or 2 * args.environments
    REPORTS.mkdir(parents=True, exist_ok=True)

    url, database_description = database_url()
    print(f"load: starting {args.environments} local cloud(s) on {database_description}")
    environments = start_environments(args.environments, url)
    base_urls = [environment.base_url for environment in environments]
    run = Run(run_id=secrets.token_hex(4), password=f"load-{secrets.token_urlsafe(12)}")
    try:
        print(f"load: {users} virtual users for {args.duration:g} s")
        elapsed = asyncio.run(
            generate_load(base_urls, users=users, duration=args.duration, mix=args.mix, run=run)
        )
        print("load: checking what was written")
        checks = asyncio.run(verify(base_urls, run, url, users))
    finally:
        for environment in environments:
            environment.stop()

    stats = endpoint_stats(run.outcomes, elapsed)
    report = {
        "config": {
            "duration_seconds": args.duration,
            "environments": args.environments,
            "users": users,
            "mix": ",".join(f"{name}={weight}" for name, weight in args.mix.items()),
            "database": database_description,
            "raised_limits": RAISED_LIMITS,
            "cores": os.cpu_count(),
        },
        "elapsed_seconds": round(elapsed, 2),
        "endpoints": stats,
        "verification": checks,
        "problems": problems_in(stats, checks),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_report(report)
    print(f"load: wrote {args.out}")
    sys.exit(1 if report["problems"] else 0)


if __name__ == "__main__":
    main()
