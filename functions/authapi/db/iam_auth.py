"""RDS IAM authentication: a short-lived token instead of a stored password.

asyncpg calls the password callable for every new physical connection, so each connection gets a
fresh token (they live 15 minutes) and no password exists anywhere to leak or rotate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

from authapi.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient


def iam_token_provider(settings: Settings) -> Callable[[], str]:
    """A callable returning a fresh RDS auth token for the configured host, port and user."""
    url = make_url(settings.database_url.get_secret_value()) if settings.database_url else None
    if url is None or not url.host or not url.username or not settings.aws_region:
        raise ValueError(
            "IAM authentication needs AUTHAPI_DATABASE_URL with a host and a user, and AWS_REGION"
        )
    host, port, user, region = url.host, url.port or 5432, url.username, settings.aws_region
    client: RDSClient | None = None

    def token() -> str:
        nonlocal client
        if client is None:
            import boto3  # only IAM deployments pay for importing boto3 here

            client = boto3.client("rds", region_name=region)
        # signing happens locally (SigV4): no network call, no blocking worth a thread
        return client.generate_db_auth_token(
            DBHostname=host, Port=port, DBUsername=user, Region=region
        )

    return token
