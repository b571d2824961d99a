"""The RDS IAM token and the SigV4 headers come out as boto3's client would make them."""

from __future__ import annotations

import datetime

import boto3
import pytest

from authapi.aws_signing import (
    CredentialSource,
    NoCredentialsError,
    rds_auth_token,
    service_endpoint,
)
from tests.support.aws import AWS_ENVIRONMENT, REGION

pytestmark = pytest.mark.unit

FROZEN = datetime.datetime(2026, 12, 3, 12, 0, 0, tzinfo=datetime.UTC)


@pytest.fixture
def frozen_signing_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore stamps each signature with its own clock: the same second for both tokens."""
    import botocore.auth

    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: FROZEN)


@pytest.mark.usefixtures("aws_credentials", "frozen_signing_time")
def test_the_rds_token_is_the_one_boto3_generates() -> None:
    host = "proxy.proxy-abc.eu-west-1.rds.amazonaws.com"
    expected = boto3.client("rds", region_name=REGION).generate_db_auth_token(
        DBHostname=host, Port=5432, DBUsername="authapi_app", Region=REGION
    )

    token = rds_auth_token(
        CredentialSource(), host=host, port=5432, user="authapi_app", region=REGION
    )

    assert token == expected
    assert token.startswith(f"{host}:5432/?Action=connect&DBUser=authapi_app&")
    assert f"X-Amz-Security-Token={AWS_ENVIRONMENT['AWS_SESSION_TOKEN']}" in token


def test_no_credentials_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    with pytest.raises(NoCredentialsError):
        CredentialSource().frozen()


def test_the_runtimes_keys_are_what_botocores_chain_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    # read from the environment without the chain (and its botocore.session import), the same
    # keys the chain's first provider would have returned
    from botocore.session import get_session

    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_CREDENTIAL_EXPIRATION", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "session-token")

    ours = CredentialSource().frozen()
    chain = get_session().get_credentials()
    assert chain is not None
    assert ours == chain.get_frozen_credentials()


def test_each_service_endpoint_is_where_botocore_would_send_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SQS", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL_SESV2", raising=False)
    assert service_endpoint("eu-west-3", service_id="SQS", host="sqs") == (
        "https://sqs.eu-west-3.amazonaws.com"
    )
    assert service_endpoint("cn-north-1", service_id="SESV2", host="email") == (
        "https://email.cn-north-1.amazonaws.com.cn"
    )
    assert service_endpoint("us-east-1", service_id="SSM", host="ssm", fips=True) == (
        "https://ssm-fips.us-east-1.amazonaws.com"
    )
    # the service's own override first, then the global one
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566/")
    assert service_endpoint("us-east-1", service_id="SQS", host="sqs") == "http://localhost:4566"
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", "http://localhost:9324")
    assert service_endpoint("us-east-1", service_id="SQS", host="sqs") == "http://localhost:9324"
