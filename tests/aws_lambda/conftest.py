"""Fixtures for driving the Lambda handler: moto SSM with a signing key, settings, the handler."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.metrics.provider import cold_start
from moto import mock_aws

from authapi.auth.keys import generate_private_key_pem
from authapi.config import Settings
from authapi.handlers.lambda_app import LambdaApp, LambdaHandler, build_lambda_app
from authapi.observability import metrics as business_metrics
from devtools.lambda_events import FakeLambdaContext, fill_placeholders
from tests.support import ScratchDatabase, make_settings

EVENTS = Path(__file__).resolve().parents[2] / "events"
PREFIX = "/authapi/test/"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def ssm(aws_credentials: None) -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ssm", region_name="us-east-1")


def put_signing_key(ssm: Any, pem: str, *, retired: str = "none", prefix: str = PREFIX) -> None:
    ssm.put_parameter(
        Name=f"{prefix}jwt/signing-key", Value=pem, Type="SecureString", Overwrite=True
    )
    ssm.put_parameter(
        Name=f"{prefix}jwt/retired-public-keys", Value=retired, Type="String", Overwrite=True
    )


@pytest.fixture
def ssm_with_key(ssm: Any) -> Any:
    put_signing_key(ssm, generate_private_key_pem())
    return ssm


def lambda_settings(test_database: ScratchDatabase, **overrides: object) -> Settings:
    """Settings as the template sets them: production, keys from SSM, one pooled connection."""
    values: dict[str, object] = {
        "environment": "production",
        "ssm_parameter_prefix": PREFIX,
        "db_pool_size": 1,
        "db_max_overflow": 0,
        "db_pool_recycle_seconds": 300,
        **overrides,
    }
    return make_settings(test_database, signing_key_pem=None, **values)


@pytest.fixture(autouse=True)
def _fresh_powertools_state() -> Iterator[None]:
    """Each test starts like a new execution environment: cold, with no metrics pending."""
    from aws_lambda_powertools.logging import logger as logger_module
    from aws_lambda_powertools.tracing import tracer as tracer_module

    cold_start.reset_cold_start_flag()
    logger_module.is_cold_start = True
    tracer_module.is_cold_start = True
    yield
    business_metrics.install_sink(None)


@pytest.fixture
def make_lambda(test_database: ScratchDatabase) -> Iterator[Callable[..., LambdaApp]]:
    """Build handlers as Lambda does at cold start; release their connections afterwards."""
    built: list[LambdaApp] = []

    def make(**overrides: object) -> LambdaApp:
        built.append(build_lambda_app(lambda_settings(test_database, **overrides)))
        return built[-1]

    yield make
    for lambda_app in built:
        lambda_app.close()


def invoke(handler: LambdaHandler, event: dict[str, Any]) -> dict[str, Any]:
    return handler(event, FakeLambdaContext())  # type: ignore[arg-type]


def load_event(name: str, **placeholders: str) -> dict[str, Any]:
    return fill_placeholders(json.loads((EVENTS / name).read_text()), placeholders)
