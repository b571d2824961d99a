"""SSM unreachable, at a cold start and after the key cache expires, through the Lambda handler.

moto's SSM runs as a real HTTP server on a local port (AWS_ENDPOINT_URL_SSM points at it), and
the outage is that server going away: botocore meets a refused connection, as it would meet a
dead VPC endpoint. Instead of sleeping, a shifted clock moves both the key provider's monotonic
clock and Powertools' cache expiry, so a test steps across the 30 s and max-staleness limits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, tzinfo
from types import SimpleNamespace
from typing import Any

import boto3
import jwt
import pytest
from aws_lambda_powertools.utilities.parameters import base as powertools_parameters
from moto.server import ThreadedMotoServer

from authapi.auth import ssm_keys
from authapi.auth.keys import generate_private_key_pem
from authapi.handlers.lambda_app import LambdaApp, build_lambda_app
from devtools.lambda_events import json_request, response_json
from tests.aws_lambda.conftest import PREFIX, invoke, lambda_settings, put_signing_key
from tests.support import STRONG_PASSWORD, ScratchDatabase, unique_email

pytestmark = pytest.mark.faults

CACHE_SECONDS = 60
MAX_STALE_SECONDS = 600
PARAMETERS = [f"{PREFIX}jwt/signing-key", f"{PREFIX}jwt/retired-public-keys"]


class SsmEndpoint:
    """moto's SSM on one local port, which a test can take down (refusing connections) and back."""

    def __init__(self) -> None:
        self.port = 0  # chosen by the first start, kept by the next ones
        self._server: ThreadedMotoServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]

    def down(self) -> None:
        assert self._server is not None
        self._server.stop()
        # stop() leaves the socket listening, where connections would hang rather than be refused
        self._server._server.server_close()  # type: ignore[union-attr]
        self._server = None

    def close(self) -> None:
        if self._server is not None:
            self.down()


class ShiftedClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> ShiftedClock:
    clock = ShiftedClock()

    class ShiftedDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> ShiftedDatetime:
            return datetime.now(tz) + timedelta(seconds=clock.offset)  # type: ignore[return-value]

    monkeypatch.setattr(ssm_keys, "time", SimpleNamespace(monotonic=clock.monotonic))
    monkeypatch.setattr(powertools_parameters, "datetime", ShiftedDatetime)
    return clock


@pytest.fixture
def ssm(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[SsmEndpoint]:
    endpoint = SsmEndpoint()
    endpoint.up()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", endpoint.url)
    put_signing_key(boto3.client("ssm", region_name="us-east-1"), generate_private_key_pem())
    yield endpoint
    endpoint.close()


@pytest.fixture
def make_lambda(test_database: ScratchDatabase) -> Iterator[Callable[[], LambdaApp]]:
    built: list[LambdaApp] = []

    def make() -> LambdaApp:
        settings = lambda_settings(
            test_database, ssm_cache_seconds=CACHE_SECONDS, ssm_max_stale_seconds=MAX_STALE_SECONDS
        )
        built.append(build_lambda_app(settings))
        return built[-1]

    yield make
    for lambda_app in built:
        lambda_app.close()


def _call(
    lambda_app: LambdaApp, method: str, path: str, payload: Any = None, **kwargs: Any
) -> dict[str, Any]:
    return invoke(lambda_app.handler, json_request(method, path, payload, **kwargs))


def _register(lambda_app: LambdaApp) -> dict[str, Any]:
    credentials = {"email": unique_email(), "password": STRONG_PASSWORD}
    return _call(lambda_app, "POST", "/api/auth/register", credentials)


def _me(lambda_app: LambdaApp, access_token: str) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {access_token}"}
    return _call(lambda_app, "GET", "/api/auth/me", headers=headers)


def _kid(response: dict[str, Any]) -> str:
    return str(jwt.get_unverified_header(response_json(response)["access_token"])["kid"])


def _assert_secrets_unavailable(response: dict[str, Any]) -> None:
    assert response["statusCode"] == 503, response
    assert response["headers"]["content-type"] == "application/problem+json"
    assert response_json(response)["code"] == "secrets_unavailable"
    assert response["headers"]["retry-after"].isdigit()


def _ssm_errors(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The "cannot read signing keys" lines logged since the last call: one per SSM attempt."""
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line[:1] == "{"]
    return [line for line in lines if line.get("message") == "cannot read signing keys from SSM"]


def test_a_cold_start_without_ssm_answers_503_and_recovers_without_a_restart(
    ssm: SsmEndpoint,
    clock: ShiftedClock,
    make_lambda: Callable[[], LambdaApp],
    capsys: pytest.CaptureFixture[str],
    record_property: Callable[[str, object], None],
) -> None:
    ssm.down()
    lambda_app = make_lambda()  # a cold start reads no key yet: the environment comes up anyway
    capsys.readouterr()

    started = time.monotonic()
    _assert_secrets_unavailable(_register(lambda_app))
    failed_in = time.monotonic() - started
    started = time.monotonic()
    _assert_secrets_unavailable(_register(lambda_app))
    refused_in = time.monotonic() - started
    record_property(
        "terminal_summary",
        f"SSM down at a cold start: 503 in {failed_in * 1000:.0f} ms when SSM is asked, "
        f"{refused_in * 1000:.0f} ms within the 30 s without asking",
    )
    (error,) = _ssm_errors(capsys)
    assert error["level"] == "ERROR"
    assert error["parameters"] == PARAMETERS
    assert error["error"].endswith("ConnectionError")  # what failed, in a word
    assert "exception" not in error  # a clear line, not a stack trace
    # no crash loop: the invocation returned, and the environment still serves what needs no key
    assert _call(lambda_app, "GET", "/health")["statusCode"] == 200

    ssm.up()
    clock.advance(29)
    # SSM is not asked again within 30 s of a failure, even though it is back by now
    _assert_secrets_unavailable(_register(lambda_app))
    clock.advance(2)
    registered = _register(lambda_app)

    assert registered["statusCode"] == 201
    assert _ssm_errors(capsys) == []


def test_after_a_first_read_the_last_keys_serve_through_an_outage_until_too_stale(
    ssm: SsmEndpoint,
    clock: ShiftedClock,
    make_lambda: Callable[[], LambdaApp],
    capsys: pytest.CaptureFixture[str],
) -> None:
    lambda_app = make_lambda()
    before = _register(lambda_app)
    assert before["statusCode"] == 201
    ssm.down()
    capsys.readouterr()

    clock.advance(CACHE_SECONDS + 1)  # the cached values expire: the next request asks SSM
    during = _register(lambda_app)
    assert during["statusCode"] == 201
    assert _kid(during) == _kid(before)  # signed with the last key read
    assert len(_ssm_errors(capsys)) == 1
    clock.advance(29)
    assert _me(lambda_app, response_json(before)["access_token"])["statusCode"] == 200
    assert _ssm_errors(capsys) == []  # not asked again within 30 s of the failure
    clock.advance(2)
    assert _register(lambda_app)["statusCode"] == 201
    assert len(_ssm_errors(capsys)) == 1  # asked again, still down, still serving

    clock.advance(MAX_STALE_SECONDS - CACHE_SECONDS - 31)  # the keys were read that long ago
    _assert_secrets_unavailable(_register(lambda_app))
    _assert_secrets_unavailable(_me(lambda_app, response_json(before)["access_token"]))
    assert _call(lambda_app, "GET", "/health")["statusCode"] == 200

    ssm.up()
    clock.advance(31)
    assert _register(lambda_app)["statusCode"] == 201
    assert _me(lambda_app, response_json(before)["access_token"])["statusCode"] == 200
