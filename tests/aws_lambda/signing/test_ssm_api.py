"""The API's own GetParameters: signed like botocore signs, answered by moto over HTTP."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from authapi.signing.ssm_api import SsmParameters, SsmRequestError, endpoint_url
from tests.support.aws import REGION

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

pytestmark = pytest.mark.aws_lambda


def _parameters() -> SsmParameters:
    return SsmParameters(region=REGION, connect_timeout=1, read_timeout=2, max_attempts=2)


def test_secure_strings_come_back_decrypted_in_one_call(ssm: SSMClient) -> None:
    ssm.put_parameter(Name="/app/secret", Value="s3cret-value", Type="SecureString")
    ssm.put_parameter(Name="/app/plain", Value="plain-value", Type="String")

    values = _parameters().get(["/app/secret", "/app/plain"])

    assert values == {"/app/secret": "s3cret-value", "/app/plain": "plain-value"}


def test_an_unknown_name_is_an_error_not_a_missing_value(ssm: SSMClient) -> None:
    ssm.put_parameter(Name="/app/plain", Value="plain-value", Type="String")

    with pytest.raises(SsmRequestError) as raised:
        _parameters().get(["/app/plain", "/app/absent"])

    assert raised.value.code == "ParameterNotFound"
    assert "plain-value" not in str(raised.value)


def test_an_optional_name_may_be_absent(ssm: SSMClient) -> None:
    ssm.put_parameter(Name="/app/plain", Value="plain-value", Type="String")

    values = _parameters().get(["/app/plain", "/app/later"], optional={"/app/later"})

    assert values == {"/app/plain": "plain-value"}


class _Scripted(BaseHTTPRequestHandler):
    """Answers each POST with the next (status, body) of the server's script, records headers."""

    def do_POST(self) -> None:
        server = self.server
        assert isinstance(server, _ScriptedServer)
        self.rfile.read(int(self.headers["Content-Length"]))
        server.requests.append(dict(self.headers.items()))
        step = server.script.pop(0)
        if step is None:  # the connection dropped before any answer
            self.close_connection = True
            self.connection.close()
            return
        status, body = step
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


class _ScriptedServer(ThreadingHTTPServer):
    def __init__(self, script: list[tuple[int, dict[str, object]] | None]):
        super().__init__(("127.0.0.1", 0), _Scripted)
        self.script = script
        self.requests: list[dict[str, str]] = []


@pytest.fixture
def scripted(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[_ScriptedServer]:
    server = _ScriptedServer([])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", f"http://127.0.0.1:{server.server_address[1]}")
    yield server
    server.shutdown()
    server.server_close()


def test_throttling_is_retried_once_then_answered(scripted: _ScriptedServer) -> None:
    throttled: dict[str, object] = {
        "__type": "com.amazonaws.ssm#ThrottlingException",
        "message": "Rate exceeded",
    }
    found: dict[str, object] = {
        "Parameters": [{"Name": "/a", "Value": "1"}],
        "InvalidParameters": [],
    }
    scripted.script += [(400, throttled), (200, found)]

    assert _parameters().get(["/a"]) == {"/a": "1"}
    assert len(scripted.requests) == 2


def test_a_dropped_connection_and_a_server_error_are_each_retried_once(
    scripted: _ScriptedServer,
) -> None:
    found: dict[str, object] = {
        "Parameters": [{"Name": "/a", "Value": "1"}],
        "InvalidParameters": [],
    }
    scripted.script += [None, (200, found), (500, {}), (200, found)]

    assert _parameters().get(["/a"]) == {"/a": "1"}
    assert _parameters().get(["/a"]) == {"/a": "1"}
    assert len(scripted.requests) == 4


def test_a_refusal_is_not_retried(scripted: _ScriptedServer) -> None:
    scripted.script += [(400, {"__type": "AccessDeniedException", "message": "no"})] * 2

    with pytest.raises(SsmRequestError) as raised:
        _parameters().get(["/a"])

    assert raised.value.code == "AccessDeniedException"
    assert len(scripted.requests) == 1


def test_requests_are_signed_with_the_session_credentials(scripted: _ScriptedServer) -> None:
    scripted.script += [(200, {"Parameters": [], "InvalidParameters": []})]

    _parameters().get([])

    (headers,) = scripted.requests
    assert headers["Authorization"].startswith(
        f"AWS4-HMAC-SHA256 Credential=testing/{headers['X-Amz-Date'][:8]}/{REGION}/ssm/aws4_request"
    )
    assert headers["X-Amz-Security-Token"] == "testing"
    assert headers["X-Amz-Target"] == "AmazonSSM.GetParameters"


def test_the_regional_endpoint_follows_botocore_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL_SSM", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    assert endpoint_url("eu-west-3") == "https://ssm.eu-west-3.amazonaws.com"
    assert endpoint_url("cn-north-1") == "https://ssm.cn-north-1.amazonaws.com.cn"
    monkeypatch.setenv("AWS_USE_FIPS_ENDPOINT", "true")
    assert endpoint_url("us-east-1") == "https://ssm-fips.us-east-1.amazonaws.com"
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://localhost:4566/")
    assert endpoint_url("us-east-1") == "http://localhost:4566"
