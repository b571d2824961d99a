"""Fixtures every tier may use: the session's database, settings, app and client; AWS stand-ins.

Helpers live in `tests/support/`; conftest files only register fixtures.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from moto import mock_aws

from authapi.app import create_app
from authapi.clock import Clock
from authapi.config import Settings
from authapi.handlers.lambda_app import LambdaApp, build_lambda_app
from authapi.key_material import generate_private_key_pem
from authapi.observability import metrics as business_metrics
from authapi.resources import app_resources
from tests.support.accounts import Account, register
from tests.support.aws import (
    AWS_ENVIRONMENT,
    REGION,
    MakeLambda,
    SsmEndpoint,
    lambda_process_environment,
    lambda_settings,
    put_keys,
)
from tests.support.db import ScratchDatabase, scratch_database
from tests.support.http import ApiClient
from tests.support.settings import ONE_CONNECTION, make_settings

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient


@pytest.fixture(scope="session")
def test_database() -> Iterator[ScratchDatabase]:
    """This session's own migrated database (`tests.support.db.scratch_database`)."""
    with scratch_database() as database:
        yield database


@pytest.fixture(scope="session")
def signing_key_pem() -> str:
    return generate_private_key_pem()


@pytest.fixture(scope="session")
def settings(test_database: ScratchDatabase, signing_key_pem: str) -> Settings:
    # one connection, as in Lambda: a request that needed two would wait for itself
    return make_settings(test_database, signing_key_pem, **ONE_CONNECTION)


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    yield application
    await app_resources(application).aclose()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[ApiClient]:
    async with ApiClient.asgi(app) as client:
        yield client


@pytest.fixture
async def account(client: ApiClient) -> Account:
    return await register(client)


@pytest.fixture
def hash_verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The hashes argon2 checks a password against from now on, in order (the real check runs)."""
    checked: list[str] = []
    original = PasswordHasher.verify

    def spy(self: PasswordHasher, hash: str, password: str | bytes) -> bool:
        checked.append(hash)
        return original(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", spy)
    return checked


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials moto accepts, so botocore never looks for real ones."""
    for name, value in AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def ssm_server() -> Iterator[SsmEndpoint]:
    """moto's SSM on a local port, shared by the session: the app reaches SSM over HTTP (it
    signs its own GetParameters, so moto's in-process mock would never see the call)."""
    endpoint = SsmEndpoint()
    endpoint.up()
    yield endpoint
    endpoint.close()


@pytest.fixture
def ssm(
    aws_credentials: None, ssm_server: SsmEndpoint, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SSMClient]:
    """moto's SSM, empty: `mock_aws` resets the state the shared server answers from."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", ssm_server.url)
    with mock_aws():
        yield boto3.client("ssm", region_name=REGION)


@pytest.fixture
def ssm_with_key(ssm: SSMClient) -> SSMClient:
    put_keys(ssm, generate_private_key_pem())
    return ssm


@pytest.fixture
def ssm_endpoint(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[SsmEndpoint]:
    """moto's SSM on a local port the app's botocore reaches over HTTP, holding a signing key."""
    endpoint = SsmEndpoint()
    endpoint.up()
    endpoint.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", endpoint.url)
    put_keys(endpoint.client(), generate_private_key_pem())
    yield endpoint
    endpoint.close()


@pytest.fixture
def make_lambda(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MakeLambda]:
    """Build handlers as Lambda does at cold start, with the template's environment, on the
    session's database unless told another; release their connections afterwards."""
    for name, value in lambda_process_environment().items():
        monkeypatch.setenv(name, value)
    built: list[LambdaApp] = []

    def make(
        database: ScratchDatabase | None = None, *, clock: Clock | None = None, **overrides: object
    ) -> LambdaApp:
        database = database or request.getfixturevalue("test_database")
        built.append(build_lambda_app(lambda_settings(database, **overrides), clock=clock))
        return built[-1]

    yield make
    for lambda_app in built:
        lambda_app.close()
    # a Lambda app installs a process-wide sink for business metrics: later tests must not feed it
    business_metrics.install_sink(None)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print what tests measured but must not assert on (`record_property("terminal_summary")`)."""
    lines = [
        str(value)
        for reports in terminalreporter.stats.values()
        for report in reports
        if isinstance(report, pytest.TestReport) and report.when == "call"
        for name, value in report.user_properties
        if name == "terminal_summary"
    ]
    if lines:
        terminalreporter.write_sep("-", "measurements")
        for line in lines:
            terminalreporter.write_line(line)
