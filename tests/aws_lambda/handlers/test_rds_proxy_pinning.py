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
from typing import Any

import asyncpg
import pytest

from authapi.handlers.lambda_app import build_lambda_app
from devtools.embedded_postgres import EmbeddedPostgres, start_embedded_postgres
from devtools.lambda_events import json_request, response_json
from tests.aws_lambda.conftest import invoke, lambda_settings, load_event
from tests.support import STRONG_PASSWORD, ScratchDatabase, private_pgdata, unique_email

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
    from authapi.config import Settings
    from authapi.db.engine import create_engine
    from authapi.migrations import upgrade_to_head

    engine = create_engine(Settings(environment="test", database_url=server.url(name)))
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()
    admin = await asyncpg.connect(server.dsn())
    try:
        # only sessions on this database, from now on, are logged statement by statement
        await admin.execute(f"ALTER DATABASE \"{name}\" SET log_statement = 'all'")
    finally:
        await admin.close()


def test_a_full_flow_sends_nothing_that_pins(ssm_with_key: Any, server: EmbeddedPostgres) -> None:
    name = f"authapi_pinning_{uuid.uuid4().hex[:8]}"
    asyncio.run(_prepare_logged_database(server, name))
    log_file = server.pgdata / "log"
    offset = log_file.stat().st_size
    database = ScratchDatabase(url=server.url(name), server=server)
    lambda_app = build_lambda_app(lambda_settings(database))
    email = unique_email()
    try:
        assert (
            invoke(lambda_app.handler, load_event("register.json", email=email))["statusCode"]
            == 201
        )
        failed = json_request(
            "POST", "/api/auth/login", {"email": email, "password": "not " + STRONG_PASSWORD}
        )
        assert invoke(lambda_app.handler, failed)["statusCode"] == 401
        tokens = response_json(invoke(lambda_app.handler, load_event("login.json", email=email)))
        me = invoke(lambda_app.handler, load_event("me.json", access_token=tokens["access_token"]))
        assert me["statusCode"] == 200
        refresh = load_event("refresh-token.json", refresh_token=tokens["refresh_token"])
        assert invoke(lambda_app.handler, refresh)["statusCode"] == 200
        assert invoke(lambda_app.handler, refresh)["statusCode"] == 401  # reuse: revocation path
        assert invoke(lambda_app.handler, load_event("health.json"))["statusCode"] == 200
    finally:
        lambda_app.close()

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
