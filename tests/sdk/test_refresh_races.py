"""The refresh's timing, in process against mock transports: what the local cloud cannot
make happen on cue (an answer that times out, a refresh that waits while another call runs).
The same behaviour against the real service is in test_refresh.py."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest

from authapi_client import AsyncAuthApiClient, AuthApiClient, MemoryTokenStore, Tokens

pytestmark = pytest.mark.unit

BASE_URL = "http://authapi.test"
REFRESH = "/api/v1/auth/refresh-token"
ME = "/api/v1/auth/me"
USER = {"id": "u", "email": "e", "is_active": True, "created_at": "t", "email_verified": True}
SPENT = Tokens("access-0", "refresh-0", time.time() - 1)  # its access token already expired


@dataclass
class Service:
    """authapi's refresh and /me as a mock: each refresh answers the next pair of tokens,
    living `expires_in` seconds; `before_refresh(n)` runs first (a delay, a lost answer)."""

    expires_in: float = 900.0
    before_refresh: Callable[[int, httpx.Request], None] = lambda n, request: None
    refreshes: list[httpx.Request] = field(default_factory=list)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == ME:
            return httpx.Response(200, json=USER)
        assert request.url.path == REFRESH, request.url
        with self._guard:
            self.refreshes.append(request)
            n = len(self.refreshes)
        self.before_refresh(n, request)
        body = {"access_token": f"access-{n}", "refresh_token": f"refresh-{n}"}
        return httpx.Response(200, json=body | {"expires_in": self.expires_in})

    def read_timeouts(self) -> list[float]:
        return [request.extensions["timeout"]["read"] for request in self.refreshes]


def times_out_first(n: int, request: httpx.Request) -> None:
    """The first refresh reaches the server, which spends the token; its answer never comes
    back: the client waits its whole read timeout (as httpx would), then gives up."""
    if n == 1:
        time.sleep(request.extensions["timeout"]["read"])
        raise httpx.ReadTimeout("timed out (test)", request=request)


# scaled down from the defaults (10 s both), keeping what matters: they are equal
INTERVAL = 1.0


def test_a_refresh_that_timed_out_is_presented_again_within_the_reuse_interval() -> None:
    service = Service(before_refresh=times_out_first)
    with AuthApiClient(
        BASE_URL,
        store=MemoryTokenStore(SPENT),
        transport=httpx.MockTransport(service.answer),
        timeout=INTERVAL,
        refresh_reuse_interval=INTERVAL,
    ) as client:
        assert client.auth.me().email == "e"
        assert client.tokens is not None
        assert client.tokens.refresh_token == "refresh-2"
    assert service.read_timeouts() == [INTERVAL / 2] * 2


async def test_an_async_refresh_that_timed_out_is_presented_again_within_the_interval() -> None:
    service = Service()
    seen = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal seen
        if request.url.path == REFRESH and (seen := seen + 1) == 1:
            await asyncio.sleep(request.extensions["timeout"]["read"])
            service.refreshes.append(request)
            raise httpx.ReadTimeout("timed out (test)", request=request)
        return service.answer(request)

    async with AsyncAuthApiClient(
        BASE_URL,
        store=MemoryTokenStore(SPENT),
        transport=httpx.MockTransport(answer),
        timeout=INTERVAL,
        refresh_reuse_interval=INTERVAL,
    ) as client:
        assert (await client.auth.me()).email == "e"
    assert service.read_timeouts() == [INTERVAL / 2] * 2


def test_by_default_a_refresh_waits_half_the_reuse_interval_other_calls_the_timeout() -> None:
    service = Service()
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return service.answer(request)

    with AuthApiClient(
        BASE_URL, store=MemoryTokenStore(SPENT), transport=httpx.MockTransport(answer)
    ) as client:
        client.auth.me()
    refresh, me = seen
    assert refresh.extensions["timeout"] == {
        "connect": 5.0,
        "read": 5.0,
        "write": 5.0,
        "pool": 10.0,
    }
    assert me.extensions["timeout"]["read"] == 10.0


CALLS = 10
SHORT_LIVED = 20.0  # below the client's refresh margin (30 s)


def slow_refresh(n: int, request: httpx.Request) -> None:
    time.sleep(0.2)  # long enough for every other call to queue behind it


def test_threads_share_one_refresh_of_a_token_living_less_than_the_margin() -> None:
    service = Service(expires_in=SHORT_LIVED, before_refresh=slow_refresh)
    with AuthApiClient(
        BASE_URL, store=MemoryTokenStore(SPENT), transport=httpx.MockTransport(service.answer)
    ) as client:
        start = threading.Barrier(CALLS)

        def call() -> str:
            start.wait()
            return client.auth.me().email

        threads = [threading.Thread(target=call) for _ in range(CALLS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(service.refreshes) == 1
        client.auth.me()  # fresh for half its life: no refresh on the next call either
        assert len(service.refreshes) == 1


async def test_tasks_share_one_refresh_of_a_token_living_less_than_the_margin() -> None:
    service = Service(expires_in=SHORT_LIVED)

    async def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == REFRESH:
            await asyncio.sleep(0.2)
        return service.answer(request)

    async with AsyncAuthApiClient(
        BASE_URL, store=MemoryTokenStore(SPENT), transport=httpx.MockTransport(answer)
    ) as client:
        users = await asyncio.gather(*(client.auth.me() for _ in range(CALLS)))
        assert [user.email for user in users] == ["e"] * CALLS
        assert len(service.refreshes) == 1
        await client.auth.me()
        assert len(service.refreshes) == 1


class InterleavingStore(MemoryTokenStore):
    """A memory store that lets a refresh save between the step-up's read of the tokens and
    its save, as a thread switch can: the read is taken, then held until the refresh saved (at
    most a second: a read made under the refresh's locks waits for nothing)."""

    def __init__(self, tokens: Tokens) -> None:
        super().__init__(tokens)
        self.step_up_answered = threading.Event()
        self.step_up_reading = threading.Event()
        self.refresh_saved = threading.Event()
        self.stepping_up = threading.current_thread()

    def load(self) -> Tokens | None:
        read = super().load()
        if self.step_up_answered.is_set() and threading.current_thread() is self.stepping_up:
            self.step_up_reading.set()
            self.refresh_saved.wait(1.0)
        return read

    def save(self, tokens: Tokens) -> None:
        super().save(tokens)
        if threading.current_thread() is not self.stepping_up:
            self.refresh_saved.set()


def test_a_step_up_does_not_put_back_the_refresh_token_a_concurrent_refresh_spent() -> None:
    store = InterleavingStore(Tokens("access-0", "refresh-0", time.time() + 900, 900))
    refresh_sent = threading.Event()
    refused_once = threading.Event()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == ME and not refused_once.is_set():
            refused_once.set()
            return httpx.Response(401, json={"code": "invalid_token", "status": 401})
        if request.url.path == ME:
            return httpx.Response(200, json=USER)
        if request.url.path == REFRESH:
            refresh_sent.set()
            store.step_up_reading.wait(1.0)  # the step-up's read first, if it can
            body = {"access_token": "access-1", "refresh_token": "refresh-1", "expires_in": 900}
            return httpx.Response(200, json=body)
        assert request.url.path == "/api/v1/auth/mfa/step-up", request.url
        store.step_up_answered.set()
        return httpx.Response(200, json={"access_token": "stepped-up", "expires_in": 300})

    with AuthApiClient(BASE_URL, store=store, transport=httpx.MockTransport(answer)) as client:
        # a call whose token the API refused, refreshing meanwhile on another thread
        refreshing = threading.Thread(target=client.auth.me)
        refreshing.start()
        assert refresh_sent.wait(5)
        client.mfa.step_up(code="123456")
        refreshing.join()
    kept = store.load()
    assert kept is not None
    assert (kept.access_token, kept.refresh_token) == ("stepped-up", "refresh-1")


async def test_an_async_step_up_during_a_refresh_is_kept_with_the_refreshs_token() -> None:
    """Tasks interleave only where they wait: a step-up answered while a refresh waits for its
    answer keeps its token once the refresh has stored the new refresh token."""
    store = MemoryTokenStore(Tokens("access-0", "refresh-0", time.time() + 900, 900))
    refresh_sent = asyncio.Event()
    step_up_answered = asyncio.Event()
    refused_once = False

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal refused_once
        if request.url.path == ME and not refused_once:
            refused_once = True
            return httpx.Response(401, json={"code": "invalid_token", "status": 401})
        if request.url.path == ME:
            return httpx.Response(200, json=USER)
        if request.url.path == REFRESH:
            refresh_sent.set()
            await step_up_answered.wait()
            await asyncio.sleep(0.05)  # the step-up's client goes on meanwhile
            body = {"access_token": "access-1", "refresh_token": "refresh-1", "expires_in": 900}
            return httpx.Response(200, json=body)
        assert request.url.path == "/api/v1/auth/mfa/step-up", request.url
        step_up_answered.set()
        return httpx.Response(200, json={"access_token": "stepped-up", "expires_in": 300})

    async with AsyncAuthApiClient(
        BASE_URL, store=store, transport=httpx.MockTransport(answer)
    ) as client:
        refreshing = asyncio.create_task(client.auth.me())
        await refresh_sent.wait()
        await client.mfa.step_up(code="123456")
        await refreshing
    kept = store.load()
    assert kept is not None
    assert (kept.access_token, kept.refresh_token) == ("stepped-up", "refresh-1")
