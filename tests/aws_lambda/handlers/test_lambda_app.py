"""What the handler builds at cold start: tracing only where it traces, patching only what it calls.

The import checks run in a fresh interpreter: this one has long since imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping

import pytest

from authapi.handlers.lambda_app import (
    CORRELATION_ID_PATH,
    correlation_id,
    skipping_unsampled,
    tracing_enabled,
)

pytestmark = pytest.mark.aws_lambda

# Builds the Lambda app (nothing connects: resources open on first use) and reports what it
# imported and whether botocore's API calls are wrapped for X-Ray.
BUILD_AND_REPORT = """
import json, sys
from authapi.config import Settings
from authapi.handlers.lambda_app import build_lambda_app
settings = Settings.model_validate(json.loads(sys.argv[1]))
lambda_app = build_lambda_app(settings)
patched = False
if "botocore.client" in sys.modules:
    call = sys.modules["botocore.client"].BaseClient._make_api_call
    patched = hasattr(call, "__wrapped__")
lambda_app.close()
print(json.dumps({
    "xray_sdk": "aws_xray_sdk.core" in sys.modules,
    "botocore": "botocore.client" in sys.modules,
    "botocore_patched": patched,
}))
"""
TRACER_DISABLED = """
import json
from aws_lambda_powertools import Tracer
print(json.dumps(Tracer(auto_patch=False).disabled))
"""
LAMBDA_RUNTIME = {"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "authapi-test"}
TRACE_SWITCHES = ("LAMBDA_TASK_ROOT", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE")


def build_in_fresh_process(settings: Mapping[str, object], env: dict[str, str]) -> dict[str, bool]:
    clean = {
        name: value
        for name, value in os.environ.items()
        if name not in TRACE_SWITCHES and name != "POWERTOOLS_TRACE_DISABLED"
    }
    result = subprocess.run(
        [sys.executable, "-c", BUILD_AND_REPORT, json.dumps(settings)],
        env={**clean, "AWS_REGION": "us-east-1", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    report: dict[str, bool] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


SETTINGS = {"environment": "test", "database_url": "postgresql://authapi@/authapi?host=/nowhere"}


@pytest.mark.parametrize(
    "env",
    [
        {},
        LAMBDA_RUNTIME,
        {**LAMBDA_RUNTIME, "POWERTOOLS_TRACE_DISABLED": "true"},
        {**LAMBDA_RUNTIME, "POWERTOOLS_TRACE_DISABLED": "0"},
        {**LAMBDA_RUNTIME, "AWS_SAM_LOCAL": "true"},
        {**LAMBDA_RUNTIME, "AWS_CHALICE_CLI_MODE": "true"},
    ],
)
def test_the_tracing_decision_is_powertools_own(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in (*TRACE_SWITCHES, "POWERTOOLS_TRACE_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # what a Tracer built there would decide, read from a fresh process: a Tracer keeps its
    # decision in class state and switches the X-Ray SDK off process-wide
    clean = {name: value for name, value in os.environ.items() if name not in TRACE_SWITCHES}
    powertools = subprocess.run(
        [sys.executable, "-c", TRACER_DISABLED],
        env={**clean, "AWS_REGION": "us-east-1", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert tracing_enabled() is not json.loads(powertools.stdout.strip().splitlines()[-1])


def test_outside_lambda_the_xray_sdk_is_never_imported() -> None:
    report = build_in_fresh_process(SETTINGS, {})
    assert report == {"xray_sdk": False, "botocore": False, "botocore_patched": False}


@pytest.mark.parametrize(
    "settings",
    [SETTINGS, {**SETTINGS, "ssm_parameter_prefix": "/authapi/test/"}],
    ids=["no-aws-calls", "ssm-keys"],
)
def test_in_lambda_the_tracer_patches_nothing(settings: dict[str, str]) -> None:
    # the app's AWS calls use no botocore client (authapi.aws_signing), so there is nothing
    # for X-Ray to patch, and building the handler never imports botocore
    report = build_in_fresh_process(settings, LAMBDA_RUNTIME)
    assert report == {"xray_sdk": True, "botocore": False, "botocore_patched": False}


def test_only_sampled_invocations_and_the_first_go_through_the_tracer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def traced(event: dict[str, object], context: object) -> dict[str, object]:
        calls.append("traced")
        return {"statusCode": 200}

    def plain(event: dict[str, object], context: object) -> dict[str, object]:
        calls.append("plain")
        return {"statusCode": 200}

    handler = skipping_unsampled(traced, plain)
    header = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled={}"
    for sampled in ("0", "0", "1", "0"):
        monkeypatch.setenv("_X_AMZN_TRACE_ID", header.format(sampled))
        handler({}, None)  # type: ignore[arg-type]
    monkeypatch.delenv("_X_AMZN_TRACE_ID")  # no header at all: the Tracer decides, as before
    handler({}, None)  # type: ignore[arg-type]
    # the first, unsampled, still holds the cold start annotation
    assert calls == ["traced", "plain", "traced", "plain", "traced"]


@pytest.mark.parametrize(
    "event",
    [
        {"requestContext": {"requestId": "Ab+/cd="}, "headers": {"x-amzn-trace-id": "Root=1-a"}},
        {"requestContext": {"requestId": ""}, "headers": {"x-amzn-trace-id": "Root=1-a"}},
        {"requestContext": {"elb": {"targetGroupArn": "arn"}}, "headers": {"x-amzn-trace-id": "R"}},
        {"requestContext": {"requestId": None}, "headers": {}},
        {"headers": {"host": "example.com"}},
        {},
    ],
    ids=["gateway", "empty-id", "alb", "none", "no-context", "empty"],
)
def test_the_correlation_id_is_what_its_jmespath_expression_selects(
    event: dict[str, object],
) -> None:
    import jmespath  # type: ignore[import-untyped]

    assert correlation_id(event) == (jmespath.search(CORRELATION_ID_PATH, event) or None)
