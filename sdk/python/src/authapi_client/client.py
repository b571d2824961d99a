"""`AuthApiClient` (sync) and `AsyncAuthApiClient`: the same resources, the same behaviour."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

import httpx

from authapi_client import async_resources, resources
from authapi_client.async_transport import AsyncTransport
from authapi_client.models import Tokens
from authapi_client.retry import DEFAULT_REFRESH_REUSE_INTERVAL, DEFAULT_TIMEOUT, RetryPolicy
from authapi_client.sync_transport import SyncTransport
from authapi_client.tokens import MemoryTokenStore, TokenStore
from authapi_client.transport import Settings


def _settings(
    store: TokenStore | None,
    retry: RetryPolicy | None,
    refresh_margin: float,
    refresh_reuse_interval: float,
    clock: Callable[[], float],
) -> Settings:
    return Settings(
        store=store if store is not None else MemoryTokenStore(),
        retry=retry if retry is not None else RetryPolicy(),
        refresh_margin=refresh_margin,
        refresh_reuse_interval=refresh_reuse_interval,
        clock=clock,
    )


class _Tokens:
    @property
    def tokens(self) -> Tokens | None:
        """What the token store holds now (None: signed out)."""
        return self._settings.store.load()

    _settings: Settings


class AuthApiClient(_Tokens):
    """authapi over HTTP, synchronously; safe to share between threads.

    Args:
        base_url: where authapi answers, with any path prefix (`https://auth.example.com/t/acme`).
        store: where tokens live (default: in memory); `FileTokenStore` to share them.
        timeout: httpx's, 10 s (5 s to connect) by default.
        retry: how idempotent requests are tried again (`RetryPolicy`).
        refresh_margin: refresh the access token this many seconds before it expires.
        refresh_reuse_interval: the service's refresh reuse interval
            (AUTHAPI_REFRESH_REUSE_INTERVAL_SECONDS, 10 s by default): a refresh request times
            out within half of it, so that a lost answer can be asked for again in time.
        transport: an httpx transport (tests, proxies); http_client: a whole httpx.Client.
    """

    def __init__(
        self,
        base_url: str,
        *,
        store: TokenStore | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        refresh_margin: float = 30.0,
        refresh_reuse_interval: float = DEFAULT_REFRESH_REUSE_INTERVAL,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._settings = _settings(store, retry, refresh_margin, refresh_reuse_interval, clock)
        self._http = http_client or httpx.Client(
            base_url=base_url, timeout=timeout, transport=transport
        )
        self._transport = SyncTransport(self._http, self._settings, sleep)
        self.auth = resources.Auth(self._transport)
        self.sessions = resources.Sessions(self._transport)
        self.email = resources.Email(self._transport)
        self.password = resources.Password(self._transport)
        self.account = resources.Account(self._transport)
        self.mfa = resources.Mfa(self._transport)
        self.oauth = resources.OAuth(self._transport)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncAuthApiClient(_Tokens):
    """authapi over HTTP, with asyncio: `AuthApiClient`'s resources and arguments, awaited;
    safe to share between the tasks of one event loop."""

    def __init__(
        self,
        base_url: str,
        *,
        store: TokenStore | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        refresh_margin: float = 30.0,
        refresh_reuse_interval: float = DEFAULT_REFRESH_REUSE_INTERVAL,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._settings = _settings(store, retry, refresh_margin, refresh_reuse_interval, clock)
        self._http = http_client or httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport
        )
        self._transport = AsyncTransport(self._http, self._settings, sleep)
        self.auth = async_resources.Auth(self._transport)
        self.sessions = async_resources.Sessions(self._transport)
        self.email = async_resources.Email(self._transport)
        self.password = async_resources.Password(self._transport)
        self.account = async_resources.Account(self._transport)
        self.mfa = async_resources.Mfa(self._transport)
        self.oauth = async_resources.OAuth(self._transport)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
