"""EventBridge's PutEvents over HTTPS (JSON protocol), signed by botocore, without a boto3 client.

Like the mail queue's client (authapi/outbox/sqs.py, which says why no boto3 client): one
request, no service model. Endpoint: `AWS_ENDPOINT_URL_EVENTBRIDGE` or `AWS_ENDPOINT_URL` (moto
locally and in tests), else the regional one, which the VPC's EventBridge interface endpoint
answers for (private DNS; infra/data.yaml).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from authapi.aws_signing import (
    CredentialSource,
    NoCredentialsError,
    service_endpoint,
    sign_request,
)

if TYPE_CHECKING:
    import urllib3

TARGET = "AWSEvents.PutEvents"
CONTENT_TYPE = "application/x-amz-json-1.1"
ENTRY_LIMIT = 10  # PutEvents takes at most 10 entries per call


class EventBridgeError(Exception):
    """The whole call failed (refused, unreachable); `code` is its error type, never a body."""

    def __init__(self, code: str, status: int):
        super().__init__(f"EventBridge answered {status} {code}")
        self.code = code
        self.status = status


def endpoint_url(region: str) -> str:
    return service_endpoint(region, service_id="EVENTBRIDGE", host="events")


class EventBridgeBus:
    """Puts events on one bus. The HTTP pool and credentials are made on first use."""

    def __init__(self, bus_name: str, *, region: str | None, timeout_seconds: float):
        self.bus_name = bus_name
        self._region = region or os.environ.get("AWS_DEFAULT_REGION")
        self._timeout = timeout_seconds
        self._pool: urllib3.PoolManager | None = None
        self._credentials = CredentialSource()

    def put_events(self, entries: Sequence[Mapping[str, Any]]) -> list[str | None]:
        """Put at most 10 entries (each without its EventBusName: this bus's is added); per entry,
        in order, None where EventBridge took it, else its ErrorCode (a partial failure)."""
        if len(entries) > ENTRY_LIMIT:
            raise ValueError(f"PutEvents takes at most {ENTRY_LIMIT} entries")
        answer = self._post(
            {"Entries": [{**entry, "EventBusName": self.bus_name} for entry in entries]}
        )
        results = answer.get("Entries") or []
        if len(results) != len(entries):
            raise EventBridgeError("UnexpectedEntryCount", 200)
        return [
            None
            if result.get("EventId") and not result.get("ErrorCode")
            else str(result.get("ErrorCode") or "UnknownError")
            for result in results
        ]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()
        self._pool = None
        self._credentials.forget()

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        import urllib3
        from botocore.awsrequest import AWSRequest

        if self._region is None:
            raise EventBridgeError("NoRegion", 0)
        if self._pool is None:
            self._pool = urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=self._timeout, read=self._timeout),
                retries=urllib3.Retry(total=1, connect=1, read=0, status=0),
            )
        body = json.dumps(payload).encode()
        url = endpoint_url(self._region) + "/"
        request = AWSRequest(
            method="POST",
            url=url,
            data=body,
            headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET},
        )
        try:
            sign_request(self._credentials, request, service="events", region=self._region)
        except NoCredentialsError:
            raise EventBridgeError("NoCredentials", 0) from None
        try:
            response = self._pool.request(
                "POST", url, body=body, headers=dict(request.headers.items()), redirect=False
            )
        except urllib3.exceptions.HTTPError as error:
            raise EventBridgeError(type(error).__name__, 0) from None
        try:
            answer: dict[str, Any] = json.loads(response.data or b"{}")
        except ValueError:
            raise EventBridgeError("UnreadableResponse", response.status) from None
        if response.status != 200:
            code = str(answer.get("__type", "UnknownError")).rpartition("#")[2]
            raise EventBridgeError(code, response.status)
        return answer
