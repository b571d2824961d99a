"""How the PreTraffic smoke flow (authapi.handlers.smoke) reaches the new version: the version a
deployment shifts to, read from CodeDeploy; API Gateway (payload 2.0) events, as API Gateway builds
them, sent to exactly that version through Lambda's Invoke; and the answers read back.

The hook is not on the API's path: boto3's clients are fine here (the API avoids them for its
cold start).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from authapi.clock import SystemClock

# RFC 2544's benchmarking range: never a real client's address, so the flow's rate-limit hits
# (one register, two or three logins per deploy) share no bucket with anyone's; a random one per
# run, so deploys in quick succession (a rollback and a retry) share none with each other either
SMOKE_SOURCE_NETWORK = ipaddress.IPv4Network("198.18.0.0/15")
SMOKE_USER_AGENT = "authapi-pretraffic-smoke"
# the API function's own timeout is 15 s; Invoke waits a little longer before giving up
INVOKE_READ_TIMEOUT_SECONDS = 20
ApiCall = Callable[[dict[str, Any]], dict[str, Any]]
"""An API Gateway event in, the function's response (statusCode, headers, body) out."""


class SmokeFailed(Exception):
    """A step answered what it must not; the message names the step, the status and the code."""


@dataclass(frozen=True)
class TargetVersion:
    """The function and version a Lambda deployment shifts the alias to (its AppSpec)."""

    function_name: str
    version: str

    @classmethod
    def of_deployment(cls, codedeploy: Any, deployment_id: str) -> TargetVersion:
        """Read from CodeDeploy: the hook's event names only the deployment."""
        info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        content = info["revision"]["appSpecContent"]["content"]
        (resource,) = json.loads(content)["Resources"]
        ((_, function),) = resource.items()
        properties = function["Properties"]
        return cls(function_name=properties["Name"], version=str(properties["TargetVersion"]))


class LambdaInvoke:
    """Sends each event to one version of a function through Lambda's Invoke API."""

    def __init__(self, client: Any, target: TargetVersion):
        self._client = client
        self._target = target

    def __call__(self, event: dict[str, Any]) -> dict[str, Any]:
        answer = self._client.invoke(
            FunctionName=self._target.function_name,
            Qualifier=self._target.version,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode(),
        )
        payload = answer["Payload"].read()
        if answer.get("FunctionError"):
            # the function crashed (an init error, a timeout): its error type, not its trace
            error = json.loads(payload or b"{}").get("errorType", "unknown")
            raise SmokeFailed(f"the new version failed: {answer['FunctionError']} {error}")
        response: dict[str, Any] = json.loads(payload)
        return response


def lambda_invoke(target: TargetVersion) -> LambdaInvoke:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=5, read_timeout=INVOKE_READ_TIMEOUT_SECONDS, retries={"max_attempts": 1}
    )
    return LambdaInvoke(boto3.client("lambda", config=config), target)


def smoke_source_ip() -> str:
    """A host address of SMOKE_SOURCE_NETWORK, drawn afresh for each run."""
    first = int(SMOKE_SOURCE_NETWORK.network_address) + 1
    hosts = SMOKE_SOURCE_NETWORK.num_addresses - 2  # not the network's or the broadcast address
    return str(ipaddress.IPv4Address(first + secrets.randbelow(hosts)))


def api_event(
    method: str,
    path: str,
    *,
    host: str,
    source_ip: str,
    body: dict[str, Any] | None = None,
    access_token: str | None = None,
) -> dict[str, Any]:
    """An HTTP API (payload format 2.0) event as API Gateway builds it for the $default route."""
    headers = {"host": host, "user-agent": SMOKE_USER_AGENT}
    if body is not None:
        headers["content-type"] = "application/json"
    if access_token is not None:
        headers["authorization"] = f"Bearer {access_token}"
    now = SystemClock().now()
    request_id = f"pretraffic-{uuid.uuid4()}"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "apiId": host.split(".", 1)[0],
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": SMOKE_USER_AGENT,
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def json_body(response: dict[str, Any]) -> dict[str, Any]:
    text = response.get("body") or ""
    if response.get("isBase64Encoded"):
        text = base64.b64decode(text).decode()
    try:
        parsed = json.loads(text) if text else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
