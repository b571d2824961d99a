"""The API handler's per-version metrics (Http5xx, Latency by FunctionName and FunctionVersion),
which CodeDeploy's canary alarms read: one EMF blob per invocation, business counts beside them."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

import pytest

from authapi.exceptions import DatabaseUnavailableError
from devtools.lambda_events import FakeLambdaContext
from tests.support.accounts import unique_email
from tests.support.aws import MakeLambda, load_event
from tests.support.logs import emf_blobs

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_ssm import SSMClient

    from authapi.handlers.lambda_app import LambdaApp

pytestmark = pytest.mark.aws_lambda

FUNCTION = "authapi-dev-api"


def _invoke(lambda_app: LambdaApp, event: dict[str, Any], version: str) -> dict[str, Any]:
    context = FakeLambdaContext(function_name=FUNCTION, function_version=version)
    return lambda_app.handler(event, cast("LambdaContext", context))


def _version_directive(blob: dict[str, Any]) -> dict[str, Any]:
    (directive,) = [
        d
        for d in blob["_aws"]["CloudWatchMetrics"]
        if d["Dimensions"] == [["FunctionName", "FunctionVersion"]]
    ]
    return directive


def test_each_answer_is_one_blob_with_its_version_status_and_latency(
    ssm_with_key: SSMClient, make_lambda: MakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    lambda_app = make_lambda()
    capsys.readouterr()

    health = _invoke(lambda_app, load_event("health.json"), "7")
    registered = _invoke(lambda_app, load_event("register.json", email=unique_email()), "7")

    assert (health["statusCode"], registered["statusCode"]) == (200, 201)
    blobs = [b for b in emf_blobs(capsys.readouterr().out) if "ColdStart" not in b]
    assert len(blobs) == 2  # one per invocation: the business counts ride in the same blob
    for blob in blobs:
        assert (blob["FunctionName"], blob["FunctionVersion"], blob["Http5xx"]) == (
            FUNCTION,
            "7",
            0,
        )
        assert blob["Latency"] > 0
        assert _version_directive(blob)["Metrics"] == [
            {"Name": "Http5xx", "Unit": "Count"},
            {"Name": "Latency", "Unit": "Milliseconds"},
        ]
    # the business count keeps its own dimension set: no custom metric per version for it
    business = [
        d for d in blobs[1]["_aws"]["CloudWatchMetrics"] if d["Dimensions"] == [["service"]]
    ]
    assert [m["Name"] for m in business[0]["Metrics"]] == ["UserRegistered"]
    assert "UserRegistered" not in str(_version_directive(blobs[1]))


def test_a_handled_503_counts_as_a_5xx_of_its_version(
    ssm_with_key: SSMClient,
    make_lambda: MakeLambda,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lambda_app = make_lambda()
    registered = _invoke(lambda_app, load_event("register.json", email=unique_email()), "12")
    access_token = json.loads(registered["body"])["access_token"]

    async def database_down(*_args: object, **_kwargs: object) -> None:
        raise DatabaseUnavailableError()

    monkeypatch.setattr("authapi.auth.repository.get_principal_user", database_down)
    capsys.readouterr()

    answer = _invoke(lambda_app, load_event("me.json", access_token=access_token), "12")

    assert answer["statusCode"] == 503  # handled: Lambda sees no error, only this metric does
    (blob,) = [b for b in emf_blobs(capsys.readouterr().out) if "Http5xx" in b]
    assert (blob["FunctionVersion"], blob["Http5xx"]) == ("12", 1)
