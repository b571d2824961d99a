"""One process of the cross-process refresh test: a client on a shared file store, its refresh
requests slowed so that two processes surely overlap; prints how many refreshes it sent.

Usage: python -m tests.sdk.refresh_worker BASE_URL STORE_PATH START_AT
"""

from __future__ import annotations

import json
import sys
import time

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


def main(base_url: str, store_path: str, start_at: str) -> None:
    client = AuthApiClient(
        base_url, timeout=TIMEOUT, store=FileTokenStore(store_path), transport=SlowRefreshes()
    )
    time.sleep(max(0.0, float(start_at) - time.time()))  # both processes call at once
    email = client.auth.me().email
    print(json.dumps({"refreshes": SlowRefreshes.refreshes, "email": email}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
