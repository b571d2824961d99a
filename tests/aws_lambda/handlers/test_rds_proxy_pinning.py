"""Nothing the app sends would pin an RDS Proxy session, read from PostgreSQL's own statement log.

RDS Proxy multiplexes client connections over few database connections until a client does
something that leaves state in the server session; then that client keeps ("pins") its database
connection for good. The AWS docs list what pins for PostgreSQL: SET and set_config, named
prepared statements (PREPARE/EXECUTE/DEALLOCATE, or the protocol-level ones drivers cache),
DISCARD, temporary tables, cursors, LISTEN, LOAD, advisory locks, and sequence functions.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import asyncpg
import pytest

from devtools.embedded_postgres import EmbeddedPostgres, migrate_database, start_embedded_postgres
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.aws import MakeLambda, load_event
from tests.support.db import ScratchDatabase, private_pgdata
from tests.support.http import SyncApiClient

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

pytestmark = pytest.mark.aws_lambda

PINNING = {
    "SET or RESET": re.compile(r"^\s*(SET|RESET)\b", re.I),
    "set_config()": re.compile(r"\bset_config\s*\(", re.I),
    "PREPARE/EXECUTE/DEALLOCATE in SQL": re.compile(r"^\s*(PREPARE|EXECUTE|DEALLOCATE)\b", re.I),
    "DISCARD": re.compile(r"^\s*DISCARD\b", re.I),
    "temporary objects": re.compile(r"\bCREATE\s+(GLOBAL\s+|LOCAL\s+)?TEMP(ORARY)?\b", re.I),
    "cursors": re.compile(r"^\s*DECLARE\b", re.I),
    "LISTEN": re.compile(r"^\s*LISTEN\b", re.I),
    "LOAD": re.compile(r"^\s*LOAD\b", re.I),
    "advisory locks": re.compile(r"\bpg_(try_)?advisory", re.I),
    "sequence functions": re.compile(r"\b(nextval|setval|currval|lastval)\s*\(", re.I),
}
# "execute <unnamed>: ..." is a one-shot statement; a name means a prepared statement that
# lives in the server session
LOGGED = re.compile(r"LOG:\s+(statement|execute (?P<name><unnamed>|\S+)):\s(?P<sql>.*)", re.S)
# a log entry starts with its timestamp; a statement's further lines follow, indented
ENTRY_START = re.compile(r"^\d{4}-\d{2}-\d{2} ")


def _log_entries(lines: list[str]) -> list[str]:
    entries: list[str] = []
    for line in lines:
        if ENTRY_START.match(line) or not entries:
            entries.append(line)
        else:
            entries[-1] += line
    return entries


@pytest.fixture(scope="module")
def server(
    test_database: ScratchDatabase,
) -> Iterator[EmbeddedPostgres]:
    """A server whose log file we can read: the session's embedded one, or one of our own."""
    if test_database.server is not None:
        yield test_database.server
        return
    yield start_embedded_postgres(private_pgdata(), cleanup="delete")


async def _prepare_logged_database(server: EmbeddedPostgres, name: str) -> None:
    admin = await asyncpg.connect(server.dsn())
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await migrate_database(server.url(name))
    admin = await asyncpg.connect(server.dsn())
    try:
        # only sessions on this database, from now on, are logged statement by statement
        await admin.execute(f"ALTER DATABASE \"{name}\" SET log_statement = 'all'")
    finally:
        await admin.close()


def test_a_full_flow_sends_nothing_that_pins(
    ssm_with_key: SSMClient, make_lambda: MakeLambda, server: EmbeddedPostgres
) -> None:
    name = f"authapi_pinning_{uuid.uuid4().hex[:8]}"
    asyncio.run(_prepare_logged_database(server, name))
    log_file = server.pgdata / "log"
    offset = log_file.stat().st_size
    lambda_app = make_lambda(ScratchDatabase(url=server.url(name), server=server))
    api = SyncApiClient.aws_lambda(lambda_app)
    email = unique_email()

    assert api.send_event(load_event("register.json", email=email)).status == 201
    failed = {"email": email, "password": "not " + STRONG_PASSWORD}
    assert api.post("/api/auth/login", json=failed).status == 401
    tokens = api.send_event(load_event("login.json", email=email)).body
    me = api.send_event(load_event("me.json", access_token=tokens["access_token"]))
    assert me.status == 200
    refresh = load_event("refresh-token.json", refresh_token=tokens["refresh_token"])
    rotated = api.send_event(refresh)
    assert rotated.status == 200
    assert api.send_event(refresh).status == 200  # a repeat within the reuse interval
    sessions = api.get("/api/v1/auth/sessions", token=rotated.body["access_token"])
    assert sessions.status == 200
    newer = load_event("refresh-token.json", refresh_token=rotated.body["refresh_token"])
    assert api.send_event(newer).status == 200
    assert api.send_event(refresh).status == 401  # two generations back: reuse, revocation path
    assert api.send_event(load_event("health.json")).status == 200

    with log_file.open(encoding="utf-8", errors="replace") as log:
        log.seek(offset)
        logged = [
            match for entry in _log_entries(log.readlines()) if (match := LOGGED.search(entry))
        ]
    statements = [match["sql"] for match in logged]
    # the log really holds the flow: the test fails if logging silently stopped working
    assert any("INSERT INTO users" in sql for sql in statements)
    assert any("UPDATE refresh_tokens" in sql for sql in statements)
    assert any("UPDATE auth_sessions" in sql for sql in statements)

    named = sorted({match["name"] for match in logged if match["name"] not in (None, "<unnamed>")})
    assert named == [], f"named prepared statements: {named}"
    for label, pattern in PINNING.items():
        offenders = [sql for sql in statements if pattern.search(sql)]
        assert offenders == [], f"{label}: {offenders}"
