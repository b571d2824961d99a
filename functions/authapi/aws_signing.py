"""AWS credentials and SigV4, from botocore, without a boto3 client.

The function makes two kinds of AWS request: SSM's GetParameters and RDS IAM auth tokens (a
presigned URL, computed locally). A boto3 client for either loads its service model and the
endpoint rules first: JSON parsed on every cold start, ~100 ms of CPU for SSM and more for RDS,
whose model is one of the largest. Neither request needs a model: botocore's credential chain
and signers do the parts that must not be written by hand, and the rest is one URL.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

RDS_TOKEN_SECONDS = 900  # what RDS accepts at most, and what boto3's generate_db_auth_token uses


class NoCredentialsError(Exception):
    """botocore's chain found no credentials (in Lambda it always finds the role's)."""


class CredentialSource:
    """The process's AWS credentials, resolved once (environment, SnapStart's container
    endpoint, ...) and refreshed by botocore when they expire; `forget()` starts over."""

    def __init__(self) -> None:
        self._credentials: Credentials | None = None

    def frozen(self) -> Any:
        """A consistent snapshot (refreshable credentials may not change halfway through)."""
        if self._credentials is None:
            self._credentials = _from_environment() or _from_the_chain()
        return self._credentials.get_frozen_credentials()

    def forget(self) -> None:
        self._credentials = None


def _from_environment() -> Credentials | None:
    """The role's keys as the Lambda runtime sets them, read as botocore's chain reads them first.

    The chain itself starts by importing botocore.session (about 25 ms of a cold start) to end
    up at the same three variables. Anything else (a named profile, keys that expire and are
    refreshed, SnapStart's container endpoint, which sets no keys) goes to the chain.
    """
    access_key, secret_key = (
        os.environ.get("AWS_ACCESS_KEY_ID"),
        os.environ.get("AWS_SECRET_ACCESS_KEY"),
    )
    if not access_key or not secret_key:
        return None
    if os.environ.get("AWS_PROFILE") or os.environ.get("AWS_CREDENTIAL_EXPIRATION"):
        return None
    from botocore.credentials import Credentials

    token = os.environ.get("AWS_SESSION_TOKEN") or os.environ.get("AWS_SECURITY_TOKEN")
    return Credentials(access_key, secret_key, token, method="env")


def _from_the_chain() -> Credentials:
    from botocore.session import get_session

    credentials = get_session().get_credentials()
    if credentials is None:
        raise NoCredentialsError()
    return credentials


def service_endpoint(region: str, *, service_id: str, host: str, fips: bool = False) -> str:
    """Where a service's calls go, as botocore picks it: `AWS_ENDPOINT_URL_<SERVICE_ID>`, then
    `AWS_ENDPOINT_URL` (moto locally and in tests), else the regional endpoint (China's domain
    in cn- regions; `<host>-fips` when asked)."""
    explicit = os.environ.get(f"AWS_ENDPOINT_URL_{service_id}") or os.environ.get(
        "AWS_ENDPOINT_URL"
    )
    if explicit:
        return explicit.rstrip("/")
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{host}{'-fips' if fips else ''}.{region}.{domain}"


def sign_request(
    credentials: CredentialSource, request: AWSRequest, *, service: str, region: str
) -> None:
    """Add SigV4 headers (with the session token, when there is one) to `request`."""
    from botocore.auth import SigV4Auth

    SigV4Auth(credentials.frozen(), service, region).add_auth(request)


def rds_auth_token(
    credentials: CredentialSource, *, host: str, port: int, user: str, region: str
) -> str:
    """What boto3's `generate_db_auth_token` returns, computed the same way, without a client."""
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest

    # RDS wants the URL without its scheme; botocore's URL parsing needs one to see the host
    scheme = "https://"
    request = AWSRequest(
        method="GET",
        url=f"{scheme}{host}:{port}/",
        data={"Action": "connect", "DBUser": user},  # moved into the query by the presigner
    )
    SigV4QueryAuth(credentials.frozen(), "rds-db", region, expires=RDS_TOKEN_SECONDS).add_auth(
        request
    )
    url: str = request.prepare().url
    return url[len(scheme) :]
