"""The SDK suite's local cloud, and what its tests read beside the SDK: the mailbox, a
confidential OAuth client, and a transport that counts (and can lose) what goes through it.

One cloud per session, with `--concurrency 20` (issue 15), on a database server of its own: the
503 test stops that server (tests/faults' helpers), which no other test of the session uses.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from unittest import mock

import boto3
import httpx

from authapi.signing.clients import ClientRegistry, OAuthClient, hash_client_secret
from authapi.signing.keys import DataKeys
from authapi_client import Tokens
from tests.support.aws import AWS_ENVIRONMENT, REGION
from tests.support.db import DedicatedDatabase
from tests.support.local_cloud import LocalCloud
from tests.support.loops import wait_until

SSM_PREFIX = "/authapi/local/"
CONFIDENTIAL_CLIENT = "sdk-resource-server"
CONFIDENTIAL_SECRET = "sdk-test-secret-" + "x" * 32
REUSE_INTERVAL = 3
# the tests' clients: a busy 2-core machine may answer slower than the SDK's default 10 s
TIMEOUT = 30.0
# The 20 concurrent calls of a test share their client's one refresh in the client, and reach
# the server over as many connections as the cloud has execution environments (--concurrency
# 20). Started 20 at once on a busy 2-core machine their cold starts outlast Lambda's init
# timeout (502s): `warm_up` starts them five at a time, before the tests.
SERVER_CONNECTIONS = 20
# every request of the suite comes from 127.0.0.1: the per-address limits would refuse it; the
# per-account login throttle stays as shipped (the 429 test trips it)
CLOUD_ENVIRONMENT = {
    # short, so that the reuse test need not wait: a lost refresh answer is retried at once
    "AUTHAPI_REFRESH_REUSE_INTERVAL_SECONDS": str(REUSE_INTERVAL),
} | {
    f"AUTHAPI_RATE_LIMIT_{name}": "1000000"
    for name in (
        "LOGIN",
        "REGISTER",
        "REFRESH",
        "REVOKE",
        "INTROSPECT",
        "MAIL",
        "ACCOUNT_TOKEN",
        "PASSWORD_CHECK",
    )
}


def start_cloud(
    database: DedicatedDatabase, *, settings: dict[str, str] | None = None, concurrency: int = 20
) -> LocalCloud:
    """The local cloud on `database` (a fresh database of it), a confidential OAuth client
    registered before it serves; `settings` adds to its environment."""
    environment = {**CLOUD_ENVIRONMENT, **AWS_ENVIRONMENT, **(settings or {})}
    with mock.patch.dict(os.environ, environment):
        cloud = LocalCloud.start(
            database.scratch(), "--concurrency", str(concurrency), "--queue-timeout", "10"
        )
    ssm_url = cloud.wait_for(r"SSM stand-in \(moto\) on (\S+);", timeout=60).group(1)
    _register_confidential_client(ssm_url)
    return cloud.wait_until_healthy()


def warm_up(cloud: LocalCloud) -> None:
    """Start `SERVER_CONNECTIONS` execution environments, five more at a time (best effort: an
    environment whose start failed is started again by the next request)."""
    for size in range(5, SERVER_CONNECTIONS + 1, 5):
        _health_at_once(cloud, size)


def _health_at_once(cloud: LocalCloud, calls: int) -> None:
    """`calls` requests in flight together: as many environments busy, new ones started."""
    start = threading.Barrier(calls)

    def health(_: int) -> int:
        start.wait()
        try:
            return httpx.get(cloud.base_url + "/health", timeout=60).status_code
        except httpx.TransportError:
            return 0

    with ThreadPoolExecutor(max_workers=calls) as pool:
        list(pool.map(health, range(calls)))


def limited_transport() -> httpx.HTTPTransport:
    return httpx.HTTPTransport(limits=httpx.Limits(max_connections=SERVER_CONNECTIONS))


def async_limited_transport() -> httpx.AsyncHTTPTransport:
    return httpx.AsyncHTTPTransport(limits=httpx.Limits(max_connections=SERVER_CONNECTIONS))


def _register_confidential_client(ssm_url: str) -> None:
    ssm = boto3.client(
        "ssm",
        endpoint_url=ssm_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    keys = ssm.get_parameter(Name=SSM_PREFIX + "data/keys", WithDecryption=True)
    secret_hash = hash_client_secret(
        DataKeys.parse(keys["Parameter"]["Value"]), CONFIDENTIAL_SECRET
    )
    registry = (
        ClientRegistry()
        .with_client(OAuthClient("default"))
        .with_client(ClientRegistry.entry(CONFIDENTIAL_CLIENT, secret_hash=secret_hash))
    )
    ssm.put_parameter(
        Name=SSM_PREFIX + "oauth/clients",
        Value=registry.to_json(),
        Type="SecureString",
        Overwrite=True,
    )


@dataclass
class Mailbox:
    """The cloud's local mailbox (JSON): the messages an address was sent."""

    url: str

    def messages_to(self, email: str, *, containing: str = "") -> list[dict[str, str]]:
        """The messages sent to `email` whose text has `containing`, once there is one."""
        found: list[dict[str, str]] = []

        def arrived() -> bool:
            messages = httpx.get(self.url + "/api/messages", timeout=5).json()
            found[:] = [m for m in messages if email in m["to"] and containing in m["text"]]
            return bool(found)

        wait_until(arrived, what=f"a message to {email} with {containing!r}", timeout=30)
        return found

    def token(self, email: str, path: str) -> str:
        """The token of the newest link to `path` sent to `email`."""
        text = self.messages_to(email, containing=path + "#token=")[-1]["text"]
        found = re.search(re.escape(path) + r"#token=([A-Za-z0-9_\-%]+)", text)
        assert found is not None, text
        return found.group(1)

    def code(self, email: str) -> str:
        text = self.messages_to(email, containing="Your code: ")[-1]["text"]
        found = re.search(r"Your code: (\d{6})", text)
        assert found is not None, text
        return found.group(1)


@dataclass
class CountingTransport(httpx.BaseTransport):
    """A real HTTP transport that counts requests by path; `lose_next(path)` makes the next
    request to `path` reach the server and its answer get lost (the connection breaks)."""

    inner: httpx.BaseTransport = field(default_factory=limited_transport)
    counts: Counter[str] = field(default_factory=Counter)
    lose: set[str] = field(default_factory=set)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        with self._guard:
            self.counts[path] += 1
            lost = path in self.lose
            self.lose.discard(path)
        response = self.inner.handle_request(request)
        if lost:
            response.read()
            response.close()
            raise httpx.ReadError("connection reset (test)", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


@dataclass
class AsyncCountingTransport(httpx.AsyncBaseTransport):
    """`CountingTransport` for the async client: counts, and loses the answer of the next
    request to each path in `lose` (one event loop: no lock needed)."""

    inner: httpx.AsyncBaseTransport = field(default_factory=async_limited_transport)
    counts: Counter[str] = field(default_factory=Counter)
    lose: set[str] = field(default_factory=set)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.counts[path] += 1
        lost = path in self.lose
        self.lose.discard(path)
        response = await self.inner.handle_async_request(request)
        if lost:
            await response.aread()
            await response.aclose()
            raise httpx.ReadError("connection reset (test)", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def expired(tokens: Tokens) -> Tokens:
    """The same tokens, their access token past its expiry as the client's clock sees it."""
    return Tokens(tokens.access_token, tokens.refresh_token, time.time() - 1)


def refused(tokens: Tokens) -> Tokens:
    """The same tokens, the access token's signature broken: the API answers 401 invalid_token
    while the client still believes it valid."""
    head, payload, signature = tokens.access_token.split(".")
    broken = ("A" if signature[0] != "A" else "B") + signature[1:]
    return Tokens(f"{head}.{payload}.{broken}", tokens.refresh_token, tokens.expires_at)
