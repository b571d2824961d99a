"""authapi as a resource server's tests meet it: the real app in process, answering the kit's
HTTP requests (the JWKS, introspection) through httpx's ASGI transport, and minting the tokens.

`Service` runs on the test's event loop (the async verifier, the FastAPI example); the
`BlockingService` on a loop of its own thread, so that the synchronous verifier, and threads of
it, call the app as they would call a server. Either counts the JWKS requests it answers, keeps
a clock of its own (the app's; the verifiers read the same one) and can rotate its signing key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import SecretStr

from authapi.app import create_app
from authapi.auth.discovery import JWKS_PATH
from authapi.config import Settings
from authapi.key_material import generate_private_key_pem, load_private_key, public_key_pem
from authapi.resources import app_resources
from authapi_client.verify import AsyncTokenVerifier, TokenVerifier
from tests.support.accounts import STRONG_PASSWORD, Account, register, unique_email
from tests.support.clock import ManualClock
from tests.support.http import ASGI_BASE_URL, ApiClient, Reply, unique_client_ip
from tests.support.loops import BackgroundLoop
from tests.support.oauth import OAUTH_SETTINGS
from tests.support.tokens import TokenForge

JWKS_URL = ASGI_BASE_URL + JWKS_PATH
REGISTER = "/api/v1/auth/register"
# a key the service never had: what a forger signs with
FOREIGN_KEY = load_private_key(generate_private_key_pem())


def _app_settings(settings: Settings, signing_key_pem: str | None = None, **more: Any) -> Settings:
    changes: dict[str, Any] = {**OAUTH_SETTINGS, **more}
    if signing_key_pem is not None:
        changes["jwt_private_key"] = SecretStr(signing_key_pem)
    return settings.model_copy(update=changes)


@dataclass
class _Authapi:
    """What both faces share: the app now serving, its clock, its keys, the JWKS requests."""

    settings: Settings
    app: FastAPI
    clock: ManualClock
    signing_key_pem: str
    client_ip: str = field(default_factory=unique_client_ip)
    jwks_requests: int = 0
    retired: list[FastAPI] = field(default_factory=list)

    @property
    def forge(self) -> TokenForge:
        """Hand-made tokens signed with the service's current key (tests/support/tokens.py)."""
        return TokenForge(load_private_key(self.signing_key_pem), self.settings)

    def epoch(self) -> float:
        """The service's clock in seconds: what the verifiers under test read."""
        return self.clock.now().timestamp()

    def counted(self, request: httpx.Request) -> None:
        if request.url.path.startswith(JWKS_PATH):
            self.jwks_requests += 1

    def _rotated_app(self) -> FastAPI:
        """A new signing key, the old one kept as retired, as `make rotate-signing-key` does."""
        old = load_private_key(self.signing_key_pem).public_key()
        self.signing_key_pem = generate_private_key_pem()
        settings = _app_settings(
            self.settings, self.signing_key_pem, jwt_retired_public_keys=public_key_pem(old)
        )
        self.retired.append(self.app)
        self.app = create_app(settings, clock=self.clock)
        return self.app

    def asgi(self) -> httpx.ASGITransport:
        return httpx.ASGITransport(app=self.app, client=(self.client_ip, 123))

    def verifier_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {
            "issuer": self.settings.jwt_issuer,
            "audience": self.settings.jwt_audience,
            "jwks_url": JWKS_URL,
            "clock": self.epoch,
            **options,
        }


class _ToCurrentApp(httpx.AsyncBaseTransport):
    """The ASGI transport of whichever app serves now (a rotation swaps it)."""

    def __init__(self, service: _Authapi):
        self.service = service

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.service.counted(request)
        return await self.service.asgi().handle_async_request(request)


class Service(_Authapi):
    http: httpx.AsyncClient  # to the service, as a resource server's verifier holds one

    @classmethod
    @asynccontextmanager
    async def started(cls, settings: Settings, pem: str) -> AsyncIterator[Service]:
        clock = ManualClock()
        app = create_app(_app_settings(settings, pem), clock=clock)
        service = cls(settings=settings, app=app, clock=clock, signing_key_pem=pem)
        service.http = httpx.AsyncClient(transport=_ToCurrentApp(service), base_url=ASGI_BASE_URL)
        try:
            yield service
        finally:
            await service.http.aclose()
            for served in (*service.retired, service.app):
                await app_resources(served).aclose()

    def verifier(self, **options: Any) -> AsyncTokenVerifier:
        return AsyncTokenVerifier(http=self.http, **self.verifier_options(options))

    def api(self) -> ApiClient:
        """The tests' client of the app serving now: `async with service.api() as api:`."""
        return ApiClient.asgi(self.app, client_ip=self.client_ip)

    async def account(self) -> Account:
        async with self.api() as api:
            return await register(api)

    def rotate(self) -> None:
        self._rotated_app()


class _BlockingToCurrentApp(httpx.BaseTransport):
    """The ASGI transport of the current app, run on the service's own loop: any thread can
    send through it, several at once, as to a server."""

    def __init__(self, service: BlockingService):
        self.service = service

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.service.counted(request)
        asgi = self.service.asgi()

        async def exchange() -> httpx.Response:
            response = await asgi.handle_async_request(request)
            content = b"".join([chunk async for chunk in response.aiter_raw()])  # still encoded
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return self.service.loop.run(exchange())


class BlockingService(_Authapi):
    loop: BackgroundLoop
    http: httpx.Client

    @classmethod
    @contextmanager
    def started(cls, settings: Settings, pem: str) -> Iterator[BlockingService]:
        clock = ManualClock()
        app = create_app(_app_settings(settings, pem), clock=clock)
        service = cls(settings=settings, app=app, clock=clock, signing_key_pem=pem)
        service.loop = BackgroundLoop()
        service.http = httpx.Client(
            transport=_BlockingToCurrentApp(service), base_url=ASGI_BASE_URL
        )
        try:
            yield service
        finally:
            service.http.close()
            for served in (*service.retired, service.app):
                service.loop.run(app_resources(served).aclose())
            service.loop.close()

    def verifier(self, **options: Any) -> TokenVerifier:
        return TokenVerifier(http=self.http, **self.verifier_options(options))

    def request(self, method: str, path: str, **options: Any) -> Reply:
        return Reply.of(self.http.request(method, path, **options))

    def account(self) -> Account:
        body = {"email": unique_email(), "password": STRONG_PASSWORD}
        return Account.registered(
            self.request("POST", REGISTER, json=body), password=STRONG_PASSWORD
        )

    def rotate(self) -> None:
        self._rotated_app()
