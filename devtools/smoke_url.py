"""`make smoke-url URL=...`: the smoke session over HTTP against a running API.

The deploy workflow runs it against the dev stack it just deployed; `devtools.dr_drill` against
a server on a restored database. register -> login -> me -> refresh -> logout -> me (401), then
the account is deleted through the API, so a deployed stack keeps nothing of the run. The
address is SES's mailbox simulator (`success+<id>@simulator.amazonses.com`): the verification
mail the registration sends is accepted and bounces nowhere, so the sender's reputation is safe.

Standard library only: the workflow's smoke job runs it without installing the project.

Usage: python -m devtools.smoke_url https://<api-id>.execute-api.<region>.amazonaws.com
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid
from typing import Any

from devtools.smoke_flow import Send, SmokeFailed, run_session

TIMEOUT_SECONDS = 20


def simulator_address() -> str:
    return f"success+smoke-{uuid.uuid4().hex[:12]}@simulator.amazonses.com"


def http_send(base_url: str) -> Send:
    if not base_url.startswith(("https://", "http://")):
        raise ValueError(f"{base_url!r} is no http(s) URL")
    base = base_url.rstrip("/")

    def send(method: str, path: str, body: Any, token: str | None) -> tuple[int, bytes]:
        headers = {"accept": "application/json", "user-agent": "authapi-smoke"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["content-type"] = "application/json"
        if token:
            headers["authorization"] = f"Bearer {token}"
        # S310: the scheme is http(s), checked above
        request = urllib.request.Request(base + path, data, headers, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                return response.status, response.read()
        except urllib.error.HTTPError as error:  # an answer all the same: the step judges it
            return error.code, error.read()

    return send


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("base_url", help="the API's base URL (http:// or https://)")
    args = parser.parse_args()
    try:
        run_session(http_send(args.base_url), email=simulator_address(), delete_account=True)
    except ValueError as error:
        sys.exit(f"smoke-url: {error}")
    except SmokeFailed as failure:
        sys.exit(str(failure))
    print(f"smoke: passed against {args.base_url}", file=sys.stderr)


if __name__ == "__main__":
    main()
