"""Tokens handled for the caller: refreshed ahead of expiry and on a refused token, once for
any number of concurrent calls (threads, tasks, processes sharing a file), and retried once
after a lost answer within the reuse interval."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import authapi_client as sdk
from authapi_client import (
    AsyncAuthApiClient,
    AuthApiClient,
    FileTokenStore,
    MemoryTokenStore,
    SignedIn,
    Tokens,
    TokenStore,
)
from tests.sdk.cloud import (
    REUSE_INTERVAL,
    TIMEOUT,
    AsyncCountingTransport,
    CountingTransport,
    expired,
    refused,
)
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.local_cloud import REPO

pytestmark = pytest.mark.integration

REFRESH = "/api/v1/auth/refresh-token"
ME = "/api/v1/auth/me"
CALLS = 20


def new_tokens(base_url: str) -> tuple[str, Tokens]:
    email = unique_email()
    with AuthApiClient(base_url, timeout=TIMEOUT) as client:
        result = client.auth.register(email, STRONG_PASSWORD)
        assert isinstance(result, SignedIn)
        return email, result.tokens


def twenty_calls_on_threads(client: AuthApiClient) -> list[str]:
    start = threading.Barrier(CALLS)

    def call(_: int) -> str:
        start.wait()
        return client.auth.me().email

    with ThreadPoolExecutor(max_workers=CALLS) as pool:
        return list(pool.map(call, range(CALLS)))


@pytest.mark.parametrize("stale", [expired, refused], ids=["expired", "refused-by-the-api"])
def test_twenty_threads_share_one_refresh(base_url: str, stale: object) -> None:
    email, tokens = new_tokens(base_url)
    counting = CountingTransport()
    store = MemoryTokenStore(stale(tokens))  # type: ignore[operator]
    with AuthApiClient(base_url, timeout=TIMEOUT, store=store, transport=counting) as client:
        assert twenty_calls_on_threads(client) == [email] * CALLS
        assert counting.counts[REFRESH] == 1
        fresh = client.tokens
        assert fresh is not None
        assert fresh.refresh_token != tokens.refresh_token
        # the session is live: no reuse was tripped, and it refreshes again as usual
        assert len(client.sessions.list()) == 1
        client.auth.refresh()


@pytest.mark.parametrize("stale", [expired, refused], ids=["expired", "refused-by-the-api"])
@pytest.mark.parametrize("kind", ["memory", "file"])
async def test_twenty_tasks_share_one_refresh(
    base_url: str, stale: object, kind: str, tmp_path: Path
) -> None:
    email, tokens = new_tokens(base_url)
    counting = AsyncCountingTransport()
    store: TokenStore = MemoryTokenStore() if kind == "memory" else FileTokenStore(tmp_path / "t")
    store.save(stale(tokens))  # type: ignore[operator]
    async with AsyncAuthApiClient(
        base_url, timeout=TIMEOUT, store=store, transport=counting
    ) as client:
        users = await asyncio.gather(*(client.auth.me() for _ in range(CALLS)))
        assert [user.email for user in users] == [email] * CALLS
        assert counting.counts[REFRESH] == 1
        assert len(await client.sessions.list()) == 1
        await client.auth.refresh()


def test_a_token_refused_after_its_refresh_is_raised_not_refreshed_again(base_url: str) -> None:
    """401 invalid_token is refreshed once; the session ended elsewhere stays an error."""
    email, tokens = new_tokens(base_url)
    with AuthApiClient(base_url, timeout=TIMEOUT) as other:
        other.auth.login(email, STRONG_PASSWORD)
        other.auth.logout(scope="others")  # ends the first session
    counting = CountingTransport()
    with AuthApiClient(
        base_url, timeout=TIMEOUT, store=MemoryTokenStore(tokens), transport=counting
    ) as client:
        with pytest.raises(sdk.InvalidRefreshToken):
            client.auth.me()
        assert (counting.counts[ME], counting.counts[REFRESH]) == (1, 1)
        assert client.tokens is None


def test_a_refresh_whose_answer_was_lost_is_presented_once_more(base_url: str) -> None:
    """The server spent the token, the answer never arrived: presented again within the reuse
    interval it gets the same successor, and the session lives on."""
    email, tokens = new_tokens(base_url)
    counting = CountingTransport(lose={REFRESH})
    with AuthApiClient(
        base_url,
        timeout=TIMEOUT,
        store=MemoryTokenStore(expired(tokens)),
        transport=counting,
        refresh_reuse_interval=REUSE_INTERVAL,
    ) as client:
        assert client.auth.me().email == email
        assert counting.counts[REFRESH] == 2
        client.auth.refresh()  # the successor is a live token: no reuse was detected
        assert client.auth.me().email == email


async def test_an_async_refresh_whose_answer_was_lost_is_presented_once_more(
    base_url: str,
) -> None:
    email, tokens = new_tokens(base_url)
    counting = AsyncCountingTransport(lose={REFRESH})
    async with AsyncAuthApiClient(
        base_url,
        timeout=TIMEOUT,
        store=MemoryTokenStore(expired(tokens)),
        transport=counting,
        refresh_reuse_interval=REUSE_INTERVAL,
    ) as client:
        assert (await client.auth.me()).email == email
        assert counting.counts[REFRESH] == 2
        await client.auth.refresh()  # the successor is a live token: no reuse was detected
        assert (await client.auth.me()).email == email


def test_a_lost_refresh_answer_is_not_retried_past_the_reuse_interval(base_url: str) -> None:
    """Past the reuse interval, presenting the token again would be taken as reuse and end the
    session: the connection error surfaces instead (an interval of 0: always past it)."""
    _, tokens = new_tokens(base_url)
    counting = CountingTransport(lose={REFRESH})
    with AuthApiClient(
        base_url,
        timeout=TIMEOUT,
        store=MemoryTokenStore(expired(tokens)),
        transport=counting,
        refresh_reuse_interval=0,
    ) as client:
        with pytest.raises(sdk.AuthApiConnectionError):
            client.auth.me()
        assert counting.counts[REFRESH] == 1
        assert client.tokens is not None  # kept: the lost answer may not have been a refusal


def test_processes_sharing_a_file_store_refresh_once(base_url: str, tmp_path: Path) -> None:
    """Two processes find the access token expired at once: one refreshes, the other waits on
    the file's lock and takes what the first stored (it took the lock, sent no refresh)."""
    email, tokens = new_tokens(base_url)
    path = tmp_path / "tokens.json"
    FileTokenStore(path).save(expired(tokens))
    command = [sys.executable, "-m", "tests.sdk.refresh_worker", base_url, str(path)]
    workers = [
        subprocess.Popen(
            command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for worker in workers:  # both imported and set up: their calls start together
        assert worker.stdout is not None
        assert worker.stdout.readline() == "ready\n"
    for worker in workers:
        assert worker.stdin is not None
        worker.stdin.write("go\n")
        worker.stdin.flush()
    outputs = [json.loads(worker.communicate(timeout=30)[0]) for worker in workers]
    assert [output["email"] for output in outputs] == [email, email]
    waited, refreshed = sorted(outputs, key=lambda output: output["refreshes"])
    assert (waited["refreshes"], refreshed["refreshes"]) == (0, 1)
    # the lock was contended: the process that sent no refresh had found the token expired too
    assert waited["locked"] == 1
    stored = FileTokenStore(path).load()
    assert stored is not None
    assert stored.refresh_token != tokens.refresh_token
