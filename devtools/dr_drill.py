"""`make dr-drill`: the restore runbook, rehearsed on the local database server.

1. A source database, migrated, served by the app (uvicorn on a free port).
2. Traffic: writer threads register accounts and log in through the API. Each acknowledged write
   is recorded with the moment its answer arrived (a user id, a session id).
3. pg_dump (custom format) of the source while the traffic goes on (once half the traffic
   time has passed and at least 5 logins were acknowledged). Writes acknowledged before
   pg_dump started are committed before its snapshot: every one of them must come back.
4. The source database is dropped (the disaster). From here the RTO clock runs: a fresh database,
   pg_restore into it, the project's migrations on it (a backup may be older than the code),
   the app on it, and the smoke session (`devtools.smoke_flow.run_session`) over HTTP.
5. Report: the measured RTO (restore start to smoke passed), and how many of the writes
   acknowledged before the dump are missing from the restored database (must be 0).

The server is AUTHAPI_DATABASE_URL's when set, else the embedded one (.local/pgdata); the drill
makes its own two databases there, with roles of its own, and drops them (and the roles) at the
end. pg_dump and pg_restore must be of the server's major version: the embedded server's own
(the pgserver wheel ships them), or from PATH or /usr/lib/postgresql/<major>/bin.

Usage: python -m devtools.dr_drill [--traffic-seconds 4] [--writers 3] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import uvicorn
from sqlalchemy.engine import URL, make_url

from devtools.embedded_postgres import DATABASE_URL, migrate_database, recreate_database
from devtools.local_stack import free_port
from devtools.serve import SERVER_OPTIONS
from devtools.smoke_flow import PASSWORD, Send, run_session
from devtools.smoke_url import http_send

ROLE_PREFIX = "authapi_drill"
STARTUP_TIMEOUT_SECONDS = 30
# how long the writes before the dump may take beyond their half of the traffic time
WRITES_TIMEOUT_SECONDS = 60
# every request comes from 127.0.0.1: the per-address limits would answer 429 within a second
UNLIMITED = dict.fromkeys(
    (
        "rate_limit_login",
        "rate_limit_register",
        "rate_limit_refresh",
        "rate_limit_revoke",
        "rate_limit_introspect",
        "login_max_failures",
        "login_account_max_failures",
    ),
    1_000_000,
)


@dataclass
class Server:
    """The PostgreSQL server the drill runs on, as a plain libpq URL to its `postgres` db."""

    admin: URL

    def database(self, name: str, driver: str = "postgresql") -> str:
        url = self.admin.set(drivername=driver, database=name)
        return url.render_as_string(hide_password=False)

    @property
    def admin_dsn(self) -> str:
        return self.database(self.admin.database or "postgres")


def local_server() -> Server:
    """AUTHAPI_DATABASE_URL's server when set, else the embedded one (started if need be)."""
    configured = os.environ.get(DATABASE_URL)
    if configured:
        return Server(make_url(configured).set(drivername="postgresql"))
    from devtools.embedded_postgres import LOCAL_PGDATA, start_embedded_postgres

    embedded = start_embedded_postgres(LOCAL_PGDATA.resolve(), cleanup="stop")
    return Server(make_url(embedded.dsn()))


# ---- pg_dump and pg_restore of the server's version ----------------------------------------


def candidate_bin_dirs() -> list[Path]:
    """The embedded server's own tools first, then PATH's, then Debian's per-version ones."""
    dirs: list[Path] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs' runtime-dir notice at import
            from pgserver._commands import POSTGRES_BIN_PATH

        dirs.append(Path(POSTGRES_BIN_PATH))
    except ImportError:
        pass
    found = shutil.which("pg_dump")
    if found:
        dirs.append(Path(found).resolve().parent)
    dirs.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    return dirs


def tool_major(binary: Path) -> int | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    match = re.search(r"\) (\d+)", out.stdout)
    return int(match.group(1)) if match else None


def pg_tools(server_major: int, dirs: list[Path] | None = None) -> Path:
    """The folder holding pg_dump and pg_restore of exactly the server's major version."""
    seen = []
    for folder in dirs if dirs is not None else candidate_bin_dirs():
        if not (folder / "pg_restore").exists():
            continue
        major = tool_major(folder / "pg_dump")
        seen.append(f"{folder} ({major})")
        if major == server_major:
            return folder
    raise SystemExit(
        f"dr-drill: no pg_dump/pg_restore of PostgreSQL {server_major} "
        f"(found: {', '.join(seen) or 'none'}); make pg-client-install, or put them on PATH"
    )


def run_tool(binary: Path, *args: str, url: URL) -> None:
    """A libpq tool on `url`; the password (if any) through the environment, not argv."""
    env = {**os.environ, **({"PGPASSWORD": url.password} if url.password else {})}
    dsn = url.set(password=None).render_as_string(hide_password=False)
    subprocess.run([binary, *args, f"--dbname={dsn}"], check=True, env=env)


# ---- the app on a database -----------------------------------------------------------------


@contextmanager
def serving(database_url: str, role_prefix: str, keys: tuple[str, str]) -> Iterator[str]:
    """uvicorn on a free port, the app on `database_url`, in a thread; yields its base URL.

    keys: the signing key and data keys, the same for the source's app and the restored one's,
    as SSM's are for every deployment of an environment.
    """
    from authapi.app import create_app
    from authapi.config import Settings

    settings = Settings.model_validate(
        {
            "environment": "development",
            "database_url": database_url,
            "db_role_prefix": role_prefix,
            "jwt_private_key": keys[0],
            "data_keys": keys[1],
            "log_level": "ERROR",  # the smoke's refused token after logout is no news
            **UNLIMITED,
        }
    )
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", **SERVER_OPTIONS
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"drill-app-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit(f"dr-drill: the app on port {port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def generate_keys() -> tuple[str, str]:
    from authapi.key_material import generate_data_key_entry, generate_private_key_pem

    return generate_private_key_pem(), generate_data_key_entry()


# ---- traffic -------------------------------------------------------------------------------


@dataclass
class Acknowledged:
    """Writes the API acknowledged, each with the monotonic time its answer arrived."""

    users: list[tuple[str, float]] = field(default_factory=list)
    sessions: list[tuple[str, float]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        """Logins acknowledged so far (each after its registration)."""
        with self.lock:
            return len(self.sessions)

    def before(self, moment: float) -> tuple[set[str], set[str]]:
        with self.lock:
            return (
                {ident for ident, at in self.users if at < moment},
                {ident for ident, at in self.sessions if at < moment},
            )


def session_id(access_token: str) -> str:
    payload = access_token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return str(claims["sid"])


def write_until(send: Send, stop: threading.Event, acknowledged: Acknowledged) -> None:
    """Register an account, log it in; again, until told to stop."""
    while not stop.is_set():
        credentials = {"email": f"drill-{uuid.uuid4().hex}@example.com", "password": PASSWORD}
        status, body = send("POST", "/api/auth/register", credentials, None)
        if status != 201:
            with acknowledged.lock:
                acknowledged.failures.append(f"register {status}: {body[:200]!r}")
            continue
        user = str(json.loads(body)["user"]["id"])
        with acknowledged.lock:
            acknowledged.users.append((user, time.monotonic()))
        status, body = send("POST", "/api/auth/login", credentials, None)
        if status != 200:
            with acknowledged.lock:
                acknowledged.failures.append(f"login {status}: {body[:200]!r}")
            continue
        sid = session_id(json.loads(body)["access_token"])
        with acknowledged.lock:
            acknowledged.sessions.append((sid, time.monotonic()))


# ---- the drill -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DrillReport:
    server_version: str
    tools: str
    users_before_dump: int
    sessions_before_dump: int
    users_written_in_all: int
    dump_seconds: float
    dump_bytes: int
    restore_seconds: float
    migrate_seconds: float
    rto_seconds: float
    revisions: tuple[str, ...]
    users_lost: int
    sessions_lost: int
    traffic_failures: tuple[str, ...]

    @property
    def rows_lost(self) -> int:
        return self.users_lost + self.sessions_lost

    def lines(self) -> list[str]:
        return [
            f"server: PostgreSQL {self.server_version}; tools: {self.tools}",
            f"acknowledged before the dump started: {self.users_before_dump} accounts, "
            f"{self.sessions_before_dump} sessions ({self.users_written_in_all} accounts in all)",
            f"pg_dump under traffic: {self.dump_seconds:.2f} s, {self.dump_bytes} bytes",
            f"restore {self.restore_seconds:.2f} s, migrate {self.migrate_seconds:.2f} s "
            f"(at {', '.join(self.revisions)}), then the smoke session passed",
            f"RTO (restore start to smoke passed): {self.rto_seconds:.2f} s",
            f"rows lost among writes committed before the dump: {self.rows_lost} "
            f"({self.users_lost} accounts, {self.sessions_lost} sessions)",
        ]


async def _scalar(dsn: str, query: str, *args: object) -> object:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchval(query, *args)
    finally:
        await connection.close()


async def lost_writes(dsn: str, users: set[str], sessions: set[str]) -> tuple[int, int]:
    """How many of these account and session ids the database at `dsn` does not hold."""
    connection = await asyncpg.connect(dsn)
    try:
        found_users = await connection.fetchval(
            "SELECT count(*) FROM users WHERE id = ANY($1::uuid[])", list(users)
        )
        found_sessions = await connection.fetchval(
            "SELECT count(*) FROM auth_sessions WHERE id = ANY($1::uuid[])", list(sessions)
        )
    finally:
        await connection.close()
    return len(users) - int(found_users), len(sessions) - int(found_sessions)


async def _drop(server: Server, names: list[str], role_prefix: str | None = None) -> None:
    """Drop the databases, and the roles of `role_prefix` when given (they are the server's)."""
    connection = await asyncpg.connect(server.admin_dsn)
    try:
        for name in names:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if role_prefix is not None:
            await connection.execute(
                f'DROP ROLE IF EXISTS "{role_prefix}_app", "{role_prefix}_migrator"'
            )
    finally:
        await connection.close()


def run_drill(
    server: Server,
    *,
    role_prefix: str = ROLE_PREFIX,
    traffic_seconds: float = 4.0,
    writers: int = 3,
    writes_before_dump: int = 5,
    keep: bool = False,
) -> DrillReport:
    source, restored = f"{role_prefix}_source", f"{role_prefix}_restored"
    version = str(asyncio.run(recreate_database(server.admin_dsn, source)))
    major = int(str(asyncio.run(_scalar(server.admin_dsn, "SHOW server_version_num")))) // 10000
    tools = pg_tools(major)
    asyncio.run(
        migrate_database(server.database(source, "postgresql+asyncpg"), role_prefix=role_prefix)
    )
    workdir = Path(tempfile.mkdtemp(prefix="authapi-dr-drill-"))
    dump_file = workdir / "authapi.dump"
    acknowledged = Acknowledged()
    keys = generate_keys()
    try:
        with serving(server.database(source, "postgresql+asyncpg"), role_prefix, keys) as base_url:
            stop = threading.Event()
            threads = [
                threading.Thread(target=write_until, args=(http_send(base_url), stop, acknowledged))
                for _ in range(writers)
            ]
            for thread in threads:
                thread.start()
            # writes before the dump point: for half the time, and at least `writes_before_dump`
            # logins (a loaded machine may be slow to give them)
            ready_by = time.monotonic() + traffic_seconds / 2
            deadline = ready_by + WRITES_TIMEOUT_SECONDS
            while time.monotonic() < ready_by or acknowledged.count() < writes_before_dump:
                if time.monotonic() > deadline or acknowledged.failures:
                    break
                time.sleep(0.05)
            dump_started = time.monotonic()
            run_tool(
                tools / "pg_dump",
                "--format=custom",
                "--no-password",
                f"--file={dump_file}",
                url=make_url(server.database(source)),
            )
            dump_seconds = time.monotonic() - dump_started
            time.sleep(traffic_seconds / 2)  # and after it: these may or may not be in the dump
            stop.set()
            for thread in threads:
                thread.join()
        users, sessions = acknowledged.before(dump_started)
        # the disaster: the source is gone; nothing below may read it
        asyncio.run(_drop(server, [source]))

        restore_started = time.monotonic()
        asyncio.run(recreate_database(server.admin_dsn, restored))
        run_tool(
            tools / "pg_restore",
            "--exit-on-error",
            "--single-transaction",
            "--no-password",
            str(dump_file),
            url=make_url(server.database(restored)),
        )
        migrate_started = time.monotonic()
        restored_url = server.database(restored, "postgresql+asyncpg")
        revisions = asyncio.run(migrate_database(restored_url, role_prefix=role_prefix))
        migrate_seconds = time.monotonic() - migrate_started
        with serving(restored_url, role_prefix, keys) as base_url:
            run_session(http_send(base_url))
        rto = time.monotonic() - restore_started

        users_lost, sessions_lost = asyncio.run(
            lost_writes(server.database(restored), users, sessions)
        )
        return DrillReport(
            server_version=version,
            tools=str(tools),
            users_before_dump=len(users),
            sessions_before_dump=len(sessions),
            users_written_in_all=len(acknowledged.users),
            dump_seconds=dump_seconds,
            dump_bytes=dump_file.stat().st_size,
            restore_seconds=migrate_started - restore_started,
            migrate_seconds=migrate_seconds,
            rto_seconds=rto,
            revisions=tuple(revisions),
            users_lost=users_lost,
            sessions_lost=sessions_lost,
            traffic_failures=tuple(acknowledged.failures),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if not keep:
            asyncio.run(_drop(server, [source, restored], role_prefix))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--traffic-seconds", type=float, default=4.0)
    parser.add_argument("--writers", type=int, default=3)
    parser.add_argument("--keep", action="store_true", help="keep the restored database")
    args = parser.parse_args()
    server = local_server()
    report = run_drill(
        server, traffic_seconds=args.traffic_seconds, writers=args.writers, keep=args.keep
    )
    for line in report.lines():
        print(f"dr-drill: {line}")
    if report.traffic_failures:
        print(
            f"dr-drill: {len(report.traffic_failures)} traffic failures, first: "
            f"{report.traffic_failures[0]}",
            file=sys.stderr,
        )
    if report.rows_lost or report.traffic_failures or not report.users_before_dump:
        sys.exit(1)


if __name__ == "__main__":
    main()
