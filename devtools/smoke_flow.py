"""Runs inside the smoke test's bare python3.13: the built artifact, and nothing else, on the path.

Standard library only, on purpose: this file must not bring anything the artifact lacks.
Migrates through the migration handler, then register -> login -> me -> refresh -> logout -> me
through the API handler, checking each answer. Exits non-zero on the first surprise.

`run_session(send)` is that session on any transport: `devtools.smoke_url` runs it over HTTP
against a deployed stack (the deploy workflow's smoke job) and `devtools.dr_drill` against a
restored database.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


class Context:
    function_name = "authapi-smoke"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:authapi-smoke"
    memory_limit_in_mb = 512
    log_group_name = "/aws/lambda/authapi-smoke"
    log_stream_name = "smoke"

    def __init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def context() -> LambdaContext:
    """A Context as the handlers' signature names it: it has every field Powertools reads."""
    return cast("LambdaContext", Context())


def event(method: str, path: str, body: Any = None, token: str | None = None) -> dict[str, Any]:
    headers = {"host": "smoke.local", "content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "smoke",
            "domainName": "smoke.local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


# one request of the session: (method, path, JSON body or None, bearer token or None) ->
# (status, raw body); each transport supplies its own
Send = Callable[[str, str, Any, "str | None"], tuple[int, bytes]]
PASSWORD = "correct horse battery staple"


class SmokeFailed(SystemExit):
    """A step answered what it must not: exits the smoke run, or tells a caller which step."""


def step(send: Send, name: str, expected: int, method: str, path: str, **request: Any) -> Any:
    status, body = send(method, path, request.get("body"), request.get("token"))
    if status != expected:
        raise SmokeFailed(f"smoke: {name} answered {status}, expected {expected}: {body[:300]!r}")
    print(f"smoke: {name} -> {status}", file=sys.stderr)
    return json.loads(body) if body else None


def run_session(send: Send, *, email: str | None = None, delete_account: bool = False) -> str:
    """register -> login -> me -> refresh -> logout -> me (401); return the account's email.

    delete_account: afterwards delete it through the API (POST /api/v1/auth/me/delete, with the
    registration's own session, which the logout left alone): a deployed stack keeps nothing.
    """
    email = email or f"smoke-{uuid.uuid4().hex[:8]}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    registered = step(send, "register", 201, "POST", "/api/auth/register", body=credentials)
    login = step(send, "login", 200, "POST", "/api/auth/login", body=credentials)
    me = step(send, "me", 200, "GET", "/api/auth/me", token=login["access_token"])
    if me["email"] != email:
        raise SmokeFailed(f"smoke: /me says {me['email']}, expected {email}")
    refresh = {"refresh_token": login["refresh_token"]}
    pair = step(send, "refresh", 200, "POST", "/api/auth/refresh-token", body=refresh)
    step(send, "logout", 204, "POST", "/api/auth/logout", token=pair["access_token"])
    step(send, "me after logout", 401, "GET", "/api/auth/me", token=pair["access_token"])
    if delete_account:
        step(
            send,
            "delete the account",
            204,
            "POST",
            "/api/v1/auth/me/delete",
            body={"password": PASSWORD},
            token=registered["access_token"],
        )
    return email


def handler_send(handler: Any) -> Send:
    """Requests as API Gateway events, straight into a Lambda handler."""

    def send(method: str, path: str, body: Any, token: str | None) -> tuple[int, bytes]:
        response = handler(event(method, path, body, token), context())
        raw = response.get("body") or ""
        content = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
        return int(response["statusCode"]), content

    return send


def check_isolation() -> None:
    import authapi

    build_dir = os.environ["SMOKE_BUILD_DIR"]
    if not authapi.__file__ or not authapi.__file__.startswith(build_dir):
        sys.exit(f"smoke: authapi imported from {authapi.__file__}, not from {build_dir}")
    leaked = [entry for entry in sys.path if ".venv" in entry]
    if leaked:
        sys.exit(f"smoke: development paths on sys.path: {leaked}")


def main() -> None:
    check_isolation()
    from authapi.handlers.migrate import handler as migrate

    print(f"smoke: migrated to {migrate({}, context())['revisions']}", file=sys.stderr)
    from authapi.handlers.api import handler

    run_session(handler_send(handler))
    print(f"smoke: passed on Python {sys.version.split()[0]} with {sys.path[0]}", file=sys.stderr)


if __name__ == "__main__":
    main()
