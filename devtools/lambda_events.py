"""API Gateway's stand-in: HTTP requests as Lambda events, and a fake Lambda context.

Standard library only: the smoke test imports this next to nothing but the built artifact.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


@dataclass
class FakeLambdaContext:
    """What the Lambda runtime passes as `context`, with the fields Powertools reads."""

    function_name: str = "authapi-local-ApiFunction"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    timeout_seconds: float = 30.0
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/authapi-local-ApiFunction"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self._started)) * 1000))


def lambda_context(function_name: str = FakeLambdaContext.function_name) -> LambdaContext:
    """A FakeLambdaContext as the handlers' signature names it (Powertools' LambdaContext)."""
    return cast("LambdaContext", FakeLambdaContext(function_name=function_name))


def http_api_event(
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | str | None = None,
    query: str = "",
    source_ip: str = "127.0.0.1",
    request_id: str | None = None,
    domain: str = "127.0.0.1:8000",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event, as API Gateway would build it."""
    lowered = {name.lower(): value for name, value in (headers or {}).items()}
    cookies = [c.strip() for c in lowered.pop("cookie", "").split(";") if c.strip()]
    raw = body.encode() if isinstance(body, str) else (body or b"")
    text_body = _as_text(raw, lowered.get("content-type", ""))
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"host": domain, **lowered},
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": domain,
            "domainPrefix": domain.split(".")[0],
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": request_id or _api_gateway_request_id(),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": text_body is None,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = dict(parse_qsl(query, keep_blank_values=True))
    if raw:
        event["body"] = text_body if text_body is not None else base64.b64encode(raw).decode()
    return event


def json_request(method: str, path: str, payload: Any = None, **kwargs: Any) -> dict[str, Any]:
    headers = {"content-type": "application/json", **kwargs.pop("headers", {})}
    body = json.dumps(payload) if payload is not None else None
    return http_api_event(method, path, headers=headers, body=body, **kwargs)


def response_body(response: dict[str, Any]) -> bytes:
    body = response.get("body") or ""
    return base64.b64decode(body) if response.get("isBase64Encoded") else body.encode()


def response_json(response: dict[str, Any]) -> Any:
    raw = response_body(response)
    return json.loads(raw) if raw else None


def _as_text(raw: bytes, content_type: str) -> str | None:
    if not raw:
        return ""
    if content_type.startswith(("application/json", "text/", "application/x-www-form-urlencoded")):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return None


def _api_gateway_request_id() -> str:
    # API Gateway's ids look like "Ab1CdEfGhIjKlMn=": short, URL-safe, ending in '='
    return base64.b64encode(uuid.uuid4().bytes[:11]).decode().replace("+", "-").replace("/", "_")


def fill_placeholders(event: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """Replace `{{name}}` in an event's text, base64-encoded bodies included."""

    def fill(text: str) -> str:
        for name, value in values.items():
            text = text.replace("{{" + name + "}}", value)
        return text

    filled: dict[str, Any] = json.loads(fill(json.dumps(event)))
    if filled.get("isBase64Encoded") and filled.get("body"):
        body = base64.b64decode(filled["body"]).decode("utf-8")
        filled["body"] = base64.b64encode(fill(body).encode()).decode()
    return filled


def placeholders_in(event: dict[str, Any]) -> set[str]:
    """The `{{name}}` placeholders an event uses, base64-encoded bodies included."""
    import re

    text = json.dumps(event)
    if event.get("isBase64Encoded") and event.get("body"):
        text += base64.b64decode(event["body"]).decode("utf-8", "replace")
    return set(re.findall(r"\{\{(\w+)\}\}", text))
