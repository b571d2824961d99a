"""RDS IAM authentication: a short-lived token instead of a stored password.

The engine calls the token provider for every new physical connection (its `do_connect`), so
each connection gets a fresh token (they live 15 minutes) and no password exists anywhere to
leak or rotate.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import make_url

from authapi.aws_signing import CredentialSource, rds_auth_token
from authapi.config import Settings


def iam_token_provider(settings: Settings) -> Callable[[], str]:
    """A callable returning a fresh RDS auth token for the configured host, port and user."""
    url = make_url(settings.database_url.get_secret_value()) if settings.database_url else None
    if url is None or not url.host or not url.username or not settings.aws_region:
        raise ValueError(
            "IAM authentication needs AUTHAPI_DATABASE_URL with a host and a user, and AWS_REGION"
        )
    host, port, user, region = url.host, url.port or 5432, url.username, settings.aws_region
    credentials = CredentialSource()

    def token() -> str:
        # signed locally (SigV4), without a boto3 client (authapi.aws_signing says why): no
        # network call, no blocking worth a thread
        return rds_auth_token(credentials, host=host, port=port, user=user, region=region)

    return token
