"""Runs inside the smoke test's bare python3.13: the built artifact, and nothing else, on the path.

Standard library only, on purpose: this file must not bring anything the artifact lacks.
Migrates through the migration handler, then register -> login -> me -> refresh -> logout -> me
through the API handler, checking each answer. Exits non-zero on the first surprise.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import time
import uuid
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


def call(handler: Any, step: str, expected: int, request: dict[str, Any]) -> Any:
    response = handler(request, context())
    raw = response.get("body") or ""
    body = base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()
    if response["statusCode"] != expected:
        sys.exit(
            f"smoke: {step} answered {response['statusCode']}, expected {expected}: {body[:300]!r}"
        )
    print(f"smoke: {step} -> {response['statusCode']}", file=sys.stderr)
    return json.loads(body) if body else None


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

    email = f"smoke-{uuid.uuid4().hex[:8]}@example.com"
    password = "correct horse battery staple"
    call(
        handler,
        "register",
        201,
        event("POST", "/api/auth/register", {"email": email, "password": password}),
    )
    login = call(
        handler,
        "login",
        200,
        event("POST", "/api/auth/login", {"email": email, "password": password}),
    )
    me = call(handler, "me", 200, event("GET", "/api/auth/me", token=login["access_token"]))
    if me["email"] != email:
        sys.exit(f"smoke: /me says {me['email']}, expected {email}")
    pair = call(
        handler,
        "refresh",
        200,
        event("POST", "/api/auth/refresh-token", {"refresh_token": login["refresh_token"]}),
    )
    call(handler, "logout", 204, event("POST", "/api/auth/logout", token=pair["access_token"]))
    call(handler, "me after logout", 401, event("GET", "/api/auth/me", token=pair["access_token"]))
    print(f"smoke: passed on Python {sys.version.split()[0]} with {sys.path[0]}", file=sys.stderr)


if __name__ == "__main__":
    main()
