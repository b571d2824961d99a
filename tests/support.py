"""Helpers the tests share: building settings and clients, registering accounts."""

from __future__ import annotations

import atexit
import shutil
import tempfile
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from authapi.config import Settings

if TYPE_CHECKING:
    from devtools.embedded_postgres import EmbeddedPostgres

STRONG_PASSWORD = "correct horse battery staple"

# a fixture that opens a client on an app with changed settings: `async with client_with(x=1):`
ClientWith = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


UNLIMITED = {
    "rate_limit_login": 1_000_000,
    "rate_limit_register": 1_000_000,
    "rate_limit_refresh": 1_000_000,
    "login_max_failures": 1_000_000,
}


def private_pgdata() -> Path:
    """A data folder outside pytest's numbered temp dirs, which a concurrent pytest may prune.

    Removed at exit; pgserver's own exit hook, registered later, runs first and stops the server.
    """
    folder = Path(tempfile.mkdtemp(prefix="authapi-test-pg-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder / "data"


@dataclass
class ScratchDatabase:
    url: str  # SQLAlchemy (postgresql+asyncpg) URL the app uses for this session's own database
    server: EmbeddedPostgres | None  # the embedded server, when the tests started one
    direct_url: str | None = None  # the database itself, when `url` goes through PgBouncer

    @property
    def dsn(self) -> str:
        """The database itself as a plain asyncpg DSN, for tests that look under the app."""
        direct = make_url(self.direct_url or self.url)
        return direct.set(drivername="postgresql").render_as_string(hide_password=False)


def make_settings(
    test_database: ScratchDatabase, signing_key_pem: str | None, **overrides: object
) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": test_database.url,
        "jwt_private_key": signing_key_pem,
        # every test request comes from one address: the abuse tests set their own limits
        **UNLIMITED,
        **overrides,
    }
    return Settings.model_validate(values)


def client_for(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def unique_email() -> str:
    return f"user-{uuid.uuid4().hex[:16]}@example.com"


@dataclass
class Account:
    email: str
    password: str
    user_id: str
    access_token: str
    refresh_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def register(
    client: httpx.AsyncClient, email: str | None = None, password: str = STRONG_PASSWORD
) -> Account:
    email = email or unique_email()
    response = await client.post("/api/auth/register", json={"email": email, "password": password})
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(
        email=email,
        password=password,
        user_id=body["user"]["id"],
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
    )
