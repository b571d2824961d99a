"""Behind CloudFront, API Gateway's sourceIp is the edge's address: the viewer's address
(CloudFront-Viewer-Address) counts only when the request carries the edge's secret
X-Origin-Verify, read from SSM with the keys; the secret itself is never logged."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from devtools.lambda_events import http_api_event
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.aws import ORIGIN_VERIFY_PARAMETER, MakeLambda
from tests.support.http import SyncApiClient, unique_client_ip
from tests.support.logs import log_records

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

pytestmark = pytest.mark.aws_lambda

SECRET = "edge-secret-5f0c1d2e9a8b7c6d5e4f3a2b1c0d9e8f"


@pytest.fixture
def edge_secret(ssm_with_key: SSMClient) -> SSMClient:
    ssm_with_key.put_parameter(
        Name=ORIGIN_VERIFY_PARAMETER, Value=SECRET, Type="SecureString", Overwrite=True
    )
    return ssm_with_key


def _through_cloudfront(edge: str, viewer: str, origin_verify: str | None) -> dict[str, object]:
    """A registration as CloudFront forwards it: from the edge, naming its viewer."""
    headers = {"content-type": "application/json", "cloudfront-viewer-address": viewer}
    if origin_verify is not None:
        headers["x-origin-verify"] = origin_verify
    body = json.dumps({"email": unique_email(), "password": STRONG_PASSWORD})
    return http_api_event(
        "POST", "/api/v1/auth/register", headers=headers, body=body, source_ip=edge
    )


def _access_log_addresses(output: str) -> list[str]:
    return [
        record["client_ip"]
        for record in log_records(output)
        if record.get("message") == "request completed"
    ]


def test_with_the_secret_each_viewer_is_its_own_client(
    edge_secret: SSMClient, make_lambda: MakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    api = SyncApiClient.aws_lambda(
        make_lambda(rate_limit_register=2, rate_limit_window_seconds=3600)
    )
    edge = unique_client_ip()
    viewers = ["203.0.113.7", "198.51.100.20", "2001:db8::17"]
    capsys.readouterr()

    # one edge, three viewers, two registrations each: every one within its own limit of 2
    statuses = [
        api.send_event(_through_cloudfront(edge, f"{viewer}:443", SECRET)).status
        for viewer in viewers
        for _ in range(2)
    ]

    assert statuses == [201] * 6
    output = capsys.readouterr().out
    assert _access_log_addresses(output) == [viewer for viewer in viewers for _ in range(2)]
    assert SECRET not in output


@pytest.mark.parametrize("origin_verify", [None, "not-the-secret", SECRET[:-1]])
def test_without_the_secret_the_edge_address_counts(
    edge_secret: SSMClient,
    make_lambda: MakeLambda,
    capsys: pytest.CaptureFixture[str],
    origin_verify: str | None,
) -> None:
    api = SyncApiClient.aws_lambda(
        make_lambda(rate_limit_register=2, rate_limit_window_seconds=3600)
    )
    edge = unique_client_ip()
    capsys.readouterr()

    # a caller of the API's own URL naming any viewer it likes: all of it is the edge's bucket
    statuses = [
        api.send_event(_through_cloudfront(edge, f"203.0.113.{n}:443", origin_verify)).status
        for n in range(3)
    ]

    assert statuses == [201, 201, 429]
    output = capsys.readouterr().out
    assert _access_log_addresses(output) == [edge] * 3
    if origin_verify is not None:
        assert origin_verify not in output


def test_without_an_edge_configured_the_header_is_never_trusted(
    ssm_with_key: SSMClient, make_lambda: MakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    # no edge/origin-verify parameter in SSM: nothing a request sends can match
    api = SyncApiClient.aws_lambda(make_lambda())
    edge = unique_client_ip()
    capsys.readouterr()

    api.send_event(_through_cloudfront(edge, "203.0.113.9:443", ""))

    assert _access_log_addresses(capsys.readouterr().out) == [edge]
