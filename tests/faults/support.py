"""What the fault tests share: a server of their own, and the app behind one synchronous API.

The ASGI app and the Lambda handler are both driven through `Api.call`, from plain (not async)
tests, so one test body covers both, and a request can be left running in a thread while the
test stops the database under it.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import asyncpg
import httpx
from fastapi import FastAPI

from authapi.handlers.lambda_app import LambdaApp
from authapi.resources import app_resources
from devtools.embedded_postgres import EmbeddedPostgres, migrate_database, start_embedded_postgres
from devtools.lambda_events import json_request, response_json
from tests.aws_lambda.conftest import invoke
from tests.support import STRONG_PASSWORD, ScratchDatabase, client_for, private_pgdata, unique_email

T = TypeVar("T")
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "request_id"}


class PrivateLoop:
    """An event loop of the caller's own, run one coroutine at a time from synchronous code."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coroutine)

    def close(self) -> None:
        self._loop.close()


@dataclass
class DedicatedDatabase:
    """A migrated database on an embedded server that only the fault tests use."""

    server: EmbeddedPostgres
    name: str = "authapi"

    @property
    def url(self) -> str:
        return self.server.url(self.name)

    @property
    def dsn(self) -> str:
        return self.server.dsn(self.name)

    @property
    def socket_path(self) -> str:
        (socket,) = Path(self.server.socket_dir).glob(".s.PGSQL.[0-9]*[0-9]")
        return str(socket)

    @property
    def running(self) -> bool:
        return (self.server.pgdata / "postmaster.pid").exists()

    def scratch(self, url: str | None = None) -> ScratchDatabase:
        return ScratchDatabase(url=url or self.url, server=self.server)

    async def fetchval(self, query: str, *args: object) -> Any:
        """One value, read straight from the server (never through a proxy under test)."""
        connection = await asyncpg.connect(self.dsn)
        try:
            return await connection.fetchval(query, *args)
        finally:
            await connection.close()


@contextmanager
def dedicated_database() -> Iterator[DedicatedDatabase]:
    """Start a server, migrate a database in it; stop it and delete its files afterwards."""
    pgdata = private_pgdata()
    database = DedicatedDatabase(server=start_embedded_postgres(pgdata, cleanup="delete"))
    try:
        database.server.create_database(database.name)
        asyncio.run(migrate_database(database.url))
        yield database
    finally:
        if database.running:
            database.server.stop()
        # pgserver's own exit hook finds nothing left to clean once the folder is gone
        shutil.rmtree(pgdata.parent, ignore_errors=True)


def wait_until(condition: Any, *, what: str, timeout: float = 10.0) -> None:
    """Poll `condition()` until it holds; the timeout is a safety net, not an assertion."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case
    body: Any

    @property
    def code(self) -> str | None:
        return self.body.get("code") if isinstance(self.body, dict) else None

    @classmethod
    def of(cls, response: httpx.Response) -> Reply:
        body = response.json() if response.content else None
        return cls(response.status_code, dict(response.headers), body)


class Api(Protocol):
    def call(
        self, method: str, path: str, payload: Any = None, *, token: str | None = None
    ) -> Reply: ...

    def close(self) -> None: ...


def _auth(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


class AsgiApi:
    """The ASGI app on a loop of its own, so a thread can drive it while the test goes on."""

    def __init__(self, app: FastAPI):
        self._app = app
        self._loop = PrivateLoop()
        self._client = client_for(app)

    def call(
        self, method: str, path: str, payload: Any = None, *, token: str | None = None
    ) -> Reply:
        return Reply.of(
            self._loop.run(self._client.request(method, path, json=payload, headers=_auth(token)))
        )

    def close(self) -> None:
        self._loop.run(self._client.aclose())
        self._loop.run(app_resources(self._app).database.dispose())
        self._loop.close()


class LambdaApi:
    """The Lambda handler, fed HTTP API events."""

    def __init__(self, lambda_app: LambdaApp):
        self._lambda_app = lambda_app

    def call(
        self, method: str, path: str, payload: Any = None, *, token: str | None = None
    ) -> Reply:
        event = json_request(method, path, payload, headers=_auth(token))
        response = invoke(self._lambda_app.handler, event)
        headers = {name.lower(): value for name, value in response.get("headers", {}).items()}
        return Reply(response["statusCode"], headers, response_json(response))

    def close(self) -> None:
        self._lambda_app.close()


@dataclass
class Account:
    email: str
    access_token: str
    refresh_token: str


def register(api: Api, email: str | None = None) -> Account:
    email = email or unique_email()
    reply = api.call("POST", "/api/auth/register", {"email": email, "password": STRONG_PASSWORD})
    assert reply.status == 201, reply
    return Account(email, reply.body["access_token"], reply.body["refresh_token"])


def assert_database_unavailable(reply: Reply) -> None:
    """A 503 the client can retry, in the documented shape: no stack trace, no internals."""
    assert reply.status == 503, reply
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.code == "database_unavailable"
    assert set(reply.body) == PROBLEM_KEYS
    assert reply.headers["retry-after"].isdigit()
