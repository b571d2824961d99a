"""One process of the cross-process refresh test: a client on a shared file store, its refresh
requests slowed so that two processes surely overlap. It says `ready` once imported and set
up, calls when the parent writes a line to its stdin (both processes at once), and prints how
many refreshes it sent and how often it took the store's lock.

Usage: python -m tests.sdk.refresh_worker BASE_URL STORE_PATH
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import AbstractContextManager

import httpx

from authapi_client import AuthApiClient, FileTokenStore
from tests.sdk.cloud import TIMEOUT

REFRESH = "/api/v1/auth/refresh-token"


class SlowRefreshes(httpx.HTTPTransport):
    """Counts refresh requests, and holds each one a while before sending it."""

    refreshes = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == REFRESH:
            SlowRefreshes.refreshes += 1
            time.sleep(0.5)
        return super().handle_request(request)


class CountedLocks(FileTokenStore):
    """Counts the refreshes this process started: each one takes the store's lock first."""

    locked = 0

    def lock(self) -> AbstractContextManager[None]:
        CountedLocks.locked += 1
        return super().lock()


def main(base_url: str, store_path: str) -> None:
    client = AuthApiClient(
        base_url, timeout=TIMEOUT, store=CountedLocks(store_path), transport=SlowRefreshes()
    )
    print("ready", flush=True)
    sys.stdin.readline()  # the parent's go, once both processes are ready
    email = client.auth.me().email
    result = {"refreshes": SlowRefreshes.refreshes, "locked": CountedLocks.locked, "email": email}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:3])
