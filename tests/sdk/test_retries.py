"""Retries: idempotent requests only, on a 503, a Retry-After or a broken connection; bounded,
jittered. The 503 comes from the local cloud with its database stopped; the 429 from its login
throttle."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

import authapi_client as sdk
from authapi_client import AuthApiClient, MemoryTokenStore, RetryPolicy, SignedIn, Tokens
from devtools.local_stack import free_port
from tests.sdk.cloud import TIMEOUT, CountingTransport
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.db import DedicatedDatabase

pytestmark = pytest.mark.integration

ME = "/api/v1/auth/me"
LOGIN = "/api/v1/auth/login"


@pytest.fixture
def account(base_url: str) -> tuple[str, Tokens]:
    email = unique_email()
    with AuthApiClient(base_url, timeout=TIMEOUT) as client:
        result = client.auth.register(email, STRONG_PASSWORD)
        assert isinstance(result, SignedIn)
        return email, result.tokens


@pytest.fixture
def database_down(sdk_database: DedicatedDatabase) -> Iterator[DedicatedDatabase]:
    """The cloud's database server stopped (tests/faults' way); running again afterwards."""
    sdk_database.server.stop()
    yield sdk_database
    if not sdk_database.running:
        sdk_database.server.start()


@pytest.mark.faults
def test_a_read_waits_out_a_database_outage_as_retry_after_says(
    base_url: str, account: tuple[str, Tokens], database_down: DedicatedDatabase
) -> None:
    email, tokens = account
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if not database_down.running:
            database_down.server.start()  # the outage ends while the client waits

    counting = CountingTransport()
    with AuthApiClient(
        base_url,
        timeout=TIMEOUT,
        store=MemoryTokenStore(tokens),
        transport=counting,
        retry=RetryPolicy(attempts=4),
        sleep=sleep,
    ) as client:
        assert client.auth.me().email == email
    assert counting.counts[ME] == len(waits) + 1 >= 2
    # the 503's Retry-After (5 s), plus at most the policy's jitter
    assert 5 <= waits[0] <= 5 + RetryPolicy().backoff


@pytest.mark.faults
def test_a_write_is_not_retried_and_a_long_outage_surfaces_typed(
    base_url: str, account: tuple[str, Tokens], database_down: DedicatedDatabase
) -> None:
    email, tokens = account
    waits: list[float] = []
    counting = CountingTransport()
    with AuthApiClient(
        base_url,
        timeout=TIMEOUT,
        store=MemoryTokenStore(tokens),
        transport=counting,
        sleep=waits.append,
    ) as client:
        with pytest.raises(sdk.DatabaseUnavailable) as login:
            client.auth.login(email, STRONG_PASSWORD)
        assert counting.counts[LOGIN] == 1  # a POST is never sent twice
        assert isinstance(login.value, sdk.ServiceUnavailableError)
        assert (login.value.status, login.value.retry_after) == (503, 5.0)
        with pytest.raises(sdk.DatabaseUnavailable):
            client.auth.me()
    assert counting.counts[ME] == RetryPolicy().attempts  # bounded
    assert len(waits) == RetryPolicy().attempts - 1


def test_a_throttled_login_is_too_many_attempts_with_retry_after(base_url: str) -> None:
    email = unique_email()
    counting = CountingTransport()
    with AuthApiClient(base_url, timeout=TIMEOUT, transport=counting) as client:
        client.auth.register(email, STRONG_PASSWORD)
        failures = 0
        with pytest.raises(sdk.TooManyAttempts) as throttled:  # noqa: PT012
            while failures < 20:
                with pytest.raises(sdk.InvalidCredentials):
                    client.auth.login(email, "not the password")
                failures += 1
    assert isinstance(throttled.value, sdk.RateLimitedError)
    assert throttled.value.status == 429
    assert throttled.value.retry_after is not None
    assert throttled.value.retry_after >= 1
    assert counting.counts[LOGIN] == failures + 1  # not retried: a login is no idempotent call


def test_a_connection_refused_is_retried_for_reads_then_typed() -> None:
    waits: list[float] = []
    counting = CountingTransport()
    tokens = Tokens("a.b.c", "refresh", 2e9)
    with AuthApiClient(
        f"http://127.0.0.1:{free_port()}",
        store=MemoryTokenStore(tokens),
        transport=counting,
        sleep=waits.append,
    ) as client:
        with pytest.raises(sdk.AuthApiConnectionError) as refused:
            client.auth.me()
        assert isinstance(refused.value.__cause__, httpx.ConnectError)
        with pytest.raises(sdk.AuthApiConnectionError):
            client.auth.login("ada@example.com", STRONG_PASSWORD)
    assert counting.counts[ME] == 3
    assert counting.counts[LOGIN] == 1
    # full jitter: below 0.25 s, then below 0.5 s
    assert len(waits) == 2
    assert 0 <= waits[0] <= 0.25
    assert 0 <= waits[1] <= 0.5


def _answers(*responses: httpx.Response) -> httpx.MockTransport:
    queue = list(responses)
    return httpx.MockTransport(lambda request: queue.pop(0))


def test_a_read_answered_429_with_a_short_retry_after_is_retried() -> None:
    waits: list[float] = []
    problem = {"code": "too_many_attempts", "detail": "later", "status": 429}
    user = {"id": "u", "email": "e", "is_active": True, "created_at": "t", "email_verified": True}
    transport = _answers(
        httpx.Response(429, json=problem, headers={"Retry-After": "2"}),
        httpx.Response(200, json=user),
        httpx.Response(429, json=problem, headers={"Retry-After": "3600"}),
    )
    with AuthApiClient(
        "http://authapi.test",
        store=MemoryTokenStore(Tokens("a.b.c", "r", 2e9)),
        transport=transport,
        sleep=waits.append,
    ) as client:
        assert client.auth.me().email == "e"
        assert 2 <= waits[0] <= 2.25
        with pytest.raises(sdk.TooManyAttempts) as later:
            client.auth.me()  # an hour is the caller's decision, not a retry's
        assert later.value.retry_after == 3600
    assert len(waits) == 1


def test_the_retry_policy_is_bounded_and_jittered() -> None:
    policy = RetryPolicy(attempts=4, backoff=1.0, max_backoff=3.0)
    draws = [policy.delay(3, None) for _ in range(200)]
    assert all(d is not None and 0 <= d <= 3.0 for d in draws)
    assert len(set(draws)) > 100
    assert policy.delay(4, None) is None
    assert policy.delay(1, 11.0) is None  # past max_retry_after
