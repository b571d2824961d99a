"""SQS's SendMessageBatch over HTTPS (JSON protocol), signed by botocore, without a boto3 client.

The API function notifies the queue after a statement that enqueued mail; a boto3 SQS client
would load its service model on that cold path (authapi/aws_signing.py says why we avoid it).
Endpoint: `AWS_ENDPOINT_URL_SQS` or `AWS_ENDPOINT_URL` (moto locally and in tests), else the
regional one, which the VPC's SQS interface endpoint answers for (private DNS).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from authapi.aws_signing import (
    CredentialSource,
    NoCredentialsError,
    service_endpoint,
    sign_request,
)

if TYPE_CHECKING:
    import urllib3

TARGET = "AmazonSQS.SendMessageBatch"
CONTENT_TYPE = "application/x-amz-json-1.0"
BATCH_LIMIT = 10  # SQS takes at most 10 entries per SendMessageBatch


class SqsRequestError(Exception):
    """SQS refused, or some entries failed; `code` is its error type (never a message body)."""

    def __init__(self, code: str, status: int):
        super().__init__(f"SQS answered {status} {code}")
        self.code = code
        self.status = status


def endpoint_url(region: str) -> str:
    return service_endpoint(region, service_id="SQS", host="sqs")


class SqsQueue:
    """Sends message bodies to one queue. The HTTP pool and credentials are made on first use."""

    def __init__(self, queue_url: str, *, region: str | None, timeout_seconds: float):
        self.queue_url = queue_url
        self._region = region or os.environ.get("AWS_DEFAULT_REGION")
        self._timeout = timeout_seconds
        self._pool: urllib3.PoolManager | None = None
        self._credentials = CredentialSource()

    def send(self, bodies: Sequence[str]) -> None:
        """Send every body (in batches of 10); raises if any of them was not accepted."""
        for start in range(0, len(bodies), BATCH_LIMIT):
            entries = [
                {"Id": str(index), "MessageBody": body}
                for index, body in enumerate(bodies[start : start + BATCH_LIMIT])
            ]
            answer = self._post({"QueueUrl": self.queue_url, "Entries": entries})
            failed = answer.get("Failed") or []
            if failed:
                raise SqsRequestError(str(failed[0].get("Code", "BatchEntryFailed")), 200)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()
        self._pool = None
        self._credentials.forget()

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        import urllib3
        from botocore.awsrequest import AWSRequest

        if self._region is None:
            raise SqsRequestError("NoRegion", 0)
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
            sign_request(self._credentials, request, service="sqs", region=self._region)
        except NoCredentialsError:
            raise SqsRequestError("NoCredentials", 0) from None
        response = self._pool.request(
            "POST", url, body=body, headers=dict(request.headers.items()), redirect=False
        )
        try:
            answer: dict[str, Any] = json.loads(response.data or b"{}")
        except ValueError:
            raise SqsRequestError("UnreadableResponse", response.status) from None
        if response.status != 200:
            code = str(answer.get("__type", "UnknownError")).rpartition("#")[2]
            raise SqsRequestError(code, response.status)
        return answer
