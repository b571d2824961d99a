"""Fixtures for the fault tests: a server of their own, AWS stand-ins, a clean state after."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from authapi.auth.keys import generate_private_key_pem
from authapi.observability import metrics as business_metrics
from tests.aws_lambda.conftest import put_signing_key
from tests.faults.support import DedicatedDatabase, dedicated_database

AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def database() -> Iterator[DedicatedDatabase]:
    """A server only the fault tests use, so cutting its connections disturbs no other test.

    Modules that stop their server override this with one of their own.
    """
    with dedicated_database() as database:
        yield database


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    yield
    # a Lambda app installs a process-wide sink for business metrics: later tests must not feed it
    business_metrics.install_sink(None)


@pytest.fixture
def in_process_ssm_with_key(aws_credentials: None) -> Iterator[Any]:
    """moto's SSM inside this process, holding a signing key under the test prefix."""
    with mock_aws():
        ssm = boto3.client("ssm", region_name="us-east-1")
        put_signing_key(ssm, generate_private_key_pem())
        yield ssm
