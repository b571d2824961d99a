"""SSM's GetParameters over HTTPS, signed by botocore: the one AWS call the API function makes.

Why not a boto3 client: building one loads SSM's service model and the endpoint rules (JSON
parsed on every cold start, about 100 ms of CPU, a tenth of the cold start: docs/benchmarks.md)
for a single operation whose wire format is one JSON object each way. botocore still does the
two parts that must not be written by hand, credentials and signature (authapi.aws_signing).

Endpoint: `AWS_ENDPOINT_URL_SSM` or `AWS_ENDPOINT_URL` when set (the local cloud and the tests
point them at moto), else SSM's regional endpoint, `ssm-fips` with `AWS_USE_FIPS_ENDPOINT=true`.
Inside the VPC the interface endpoint's private DNS answers for that same name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from authapi.aws_signing import CredentialSource, NoCredentialsError, service_endpoint, sign_request

if TYPE_CHECKING:
    import urllib3

TARGET = "AmazonSSM.GetParameters"
CONTENT_TYPE = "application/x-amz-json-1.1"
# what SSM answers when it sheds load: retried like botocore's standard mode does
RETRYABLE_ERRORS = frozenset({"ThrottlingException", "TooManyUpdates", "InternalServerError"})
_TRUTHY = frozenset({"1", "true", "yes", "on"})


class SsmRequestError(Exception):
    """SSM answered with an error; `code` is its error type (never a parameter's value)."""

    def __init__(self, code: str, status: int):
        super().__init__(f"SSM answered {status} {code}")
        self.code = code
        self.status = status


def endpoint_url(region: str) -> str:
    """Where GetParameters goes, with botocore's own environment overrides honoured."""
    fips = os.environ.get("AWS_USE_FIPS_ENDPOINT", "").lower() in _TRUTHY
    return service_endpoint(region, service_id="SSM", host="ssm", fips=fips)


class SsmParameters:
    """Reads SecureString and String parameters by name, decrypted, in one signed request.

    The HTTP pool and the credentials are made on first use and kept; `close()` drops both (a
    SnapStart restore must sign with the restored environment's credentials).
    """

    def __init__(
        self, *, region: str | None, connect_timeout: float, read_timeout: float, max_attempts: int
    ):
        # botocore's fallback too; the Lambda runtime sets AWS_REGION, which settings read
        self._region = region or os.environ.get("AWS_DEFAULT_REGION")
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_attempts = max_attempts
        self._pool: urllib3.PoolManager | None = None
        self._credentials = CredentialSource()

    def get(self, names: list[str], *, optional: Collection[str] = ()) -> dict[str, str]:
        """Each name's value; raises SsmRequestError (or the network's error) otherwise.

        A name SSM does not know is an error (`ParameterNotFound`), unless it is `optional`:
        then it is only absent from the answer.
        """
        from urllib3.exceptions import HTTPError

        body = json.dumps({"Names": names, "WithDecryption": True}).encode()
        for attempt in range(1, self._max_attempts + 1):
            try:
                answer = self._post(body)
            except SsmRequestError as error:
                retryable = error.code in RETRYABLE_ERRORS or error.status >= 500
                if not retryable or attempt == self._max_attempts:
                    raise
                continue
            # a refused or dropped connection, a timeout: urllib3's own errors (not OSErrors)
            except (HTTPError, OSError):
                if attempt == self._max_attempts:
                    raise
                continue
            missing = set(answer.get("InvalidParameters") or []) - set(optional)
            if missing:
                raise SsmRequestError("ParameterNotFound", 400)
            return {str(item["Name"]): str(item["Value"]) for item in answer["Parameters"]}
        raise AssertionError("unreachable: the last attempt returns or raises")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()
        self._pool = None
        self._credentials.forget()

    def _post(self, body: bytes) -> dict[str, Any]:
        import urllib3
        from botocore.awsrequest import AWSRequest

        if self._region is None:
            raise SsmRequestError("NoRegion", 0)
        if self._pool is None:
            self._pool = urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=self._connect_timeout, read=self._read_timeout),
                retries=False,  # ours, above: one policy for every failure
            )
        region = self._region
        url = endpoint_url(region) + "/"
        request = AWSRequest(
            method="POST",
            url=url,
            data=body,
            headers={"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET},
        )
        try:
            sign_request(self._credentials, request, service="ssm", region=region)
        except NoCredentialsError:
            raise SsmRequestError("NoCredentials", 0) from None
        response = self._pool.request(
            "POST", url, body=body, headers=dict(request.headers.items()), redirect=False
        )
        try:
            answer: dict[str, Any] = json.loads(response.data or b"{}")
        except ValueError:
            raise SsmRequestError("UnreadableResponse", response.status) from None
        if response.status != 200:
            # "__type" is "com.amazonaws.ssm#ThrottlingException" or just the name
            code = str(answer.get("__type", "UnknownError")).rpartition("#")[2]
            raise SsmRequestError(code, response.status)
        return answer
