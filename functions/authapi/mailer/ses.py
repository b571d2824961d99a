"""SES v2 SendEmail (Content.Raw) over HTTPS, signed by botocore, without a boto3 client.

The mailer could afford boto3 (it is not the API's cold path), but the request is one JSON
object each way, and this way the API's SQS call, SSM's and this one share one pattern, one set
of fault tests and no service models. Endpoint: `AWS_ENDPOINT_URL_SESV2` or `AWS_ENDPOINT_URL`
(moto locally and in tests), else SES's regional API endpoint.
"""

from __future__ import annotations

import base64
import json
import os
from typing import TYPE_CHECKING, Any

from authapi.aws_signing import CredentialSource, NoCredentialsError, service_endpoint, sign_request

if TYPE_CHECKING:
    import urllib3

PATH = "/v2/email/outbound-emails"
# SES's answers that no retry can change: the message (or its recipient) is refused as it is.
# Everything else (throttling, 5xx, a paused account, the network) is transient: retried.
PERMANENT_ERRORS = frozenset(
    {
        "MessageRejected",
        "BadRequestException",
        "MailFromDomainNotVerifiedException",
        "NotFoundException",
    }
)


class SendFailure(Exception):
    """The provider did not take the message; `permanent`: it never will, as it is."""

    def __init__(self, code: str, status: int, *, permanent: bool):
        super().__init__(f"SES answered {status} {code}")
        self.code = code
        self.status = status
        self.permanent = permanent


def endpoint_url(region: str) -> str:
    return service_endpoint(region, service_id="SESV2", host="email")


class SesMailer:
    """Sends raw MIME messages from one identity, through one configuration set."""

    def __init__(
        self,
        *,
        sender: str,
        configuration_set: str | None,
        region: str | None,
        timeout_seconds: float,
    ):
        self._sender = sender
        self._configuration_set = configuration_set
        self._region = region or os.environ.get("AWS_DEFAULT_REGION")
        self._timeout = timeout_seconds
        self._pool: urllib3.PoolManager | None = None
        self._credentials = CredentialSource()

    def send(self, *, to: str, raw: bytes, sender: str | None = None) -> str:
        """SES's message id; raises SendFailure (transient unless said otherwise). `sender`: a
        tenant's own From (an identity the IAM policy lists), else the deployment's."""
        from urllib3.exceptions import HTTPError

        payload: dict[str, Any] = {
            "FromEmailAddress": sender or self._sender,
            "Destination": {"ToAddresses": [to]},
            "Content": {"Raw": {"Data": base64.b64encode(raw).decode()}},
        }
        if self._configuration_set:
            payload["ConfigurationSetName"] = self._configuration_set
        try:
            answer = self._post(payload)
        except (HTTPError, OSError) as error:  # refused, dropped, timed out
            raise SendFailure(type(error).__name__, 0, permanent=False) from None
        return str(answer["MessageId"])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()
        self._pool = None
        self._credentials.forget()

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        import urllib3
        from botocore.awsrequest import AWSRequest

        if self._region is None:
            raise SendFailure("NoRegion", 0, permanent=False)
        if self._pool is None:
            self._pool = urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=self._timeout, read=self._timeout),
                retries=False,  # a retry is SQS's redelivery, after the circuit breaker's say
            )
        body = json.dumps(payload).encode()
        url = endpoint_url(self._region) + PATH
        request = AWSRequest(
            method="POST", url=url, data=body, headers={"Content-Type": "application/json"}
        )
        try:
            sign_request(self._credentials, request, service="ses", region=self._region)
        except NoCredentialsError:
            raise SendFailure("NoCredentials", 0, permanent=False) from None
        response = self._pool.request(
            "POST", url, body=body, headers=dict(request.headers.items()), redirect=False
        )
        try:
            answer: dict[str, Any] = json.loads(response.data or b"{}")
        except ValueError:
            answer = {}
        if response.status != 200:
            code = (
                (
                    response.headers.get("x-amzn-ErrorType")
                    or str(answer.get("__type") or answer.get("code") or "UnknownError")
                )
                .partition(":")[0]
                .rpartition("#")[2]
            )
            permanent = code in PERMANENT_ERRORS and response.status < 500
            raise SendFailure(code, response.status, permanent=permanent)
        return answer
