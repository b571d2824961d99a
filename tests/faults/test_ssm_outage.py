"""SSM unreachable, at a cold start and after the key cache expires, through the Lambda handler.

moto's SSM runs as a real HTTP server on a local port (AWS_ENDPOINT_URL_SSM points at it), and
the outage is that server going away: botocore meets a refused connection, as it would meet a
dead VPC endpoint. Instead of sleeping, the app's clock (the key provider's too) is moved, so a
test steps across the 30 s and max-staleness limits.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.aws import (
    DATA_KEYS_PARAMETER,
    NEXT_PUBLIC_KEY_PARAMETER,
    OAUTH_CLIENTS_PARAMETER,
    ORIGIN_VERIFY_PARAMETER,
    RETIRED_KEYS_PARAMETER,
    SIGNING_KEY_PARAMETER,
    MakeLambda,
    SsmEndpoint,
)
from tests.support.clock import ManualClock
from tests.support.http import Reply, SyncApiClient
from tests.support.logs import log_records

pytestmark = pytest.mark.faults

CACHE_SECONDS = 60
MAX_STALE_SECONDS = 600
PARAMETERS = [
    SIGNING_KEY_PARAMETER,
    RETIRED_KEYS_PARAMETER,
    NEXT_PUBLIC_KEY_PARAMETER,
    DATA_KEYS_PARAMETER,
    OAUTH_CLIENTS_PARAMETER,
    ORIGIN_VERIFY_PARAMETER,
]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def ssm(ssm_endpoint: SsmEndpoint) -> SsmEndpoint:
    """SSM over HTTP, holding a signing key: a test takes it down and back up."""
    return ssm_endpoint


def _cold_start(make_lambda: MakeLambda, clock: ManualClock) -> SyncApiClient:
    """A new execution environment whose keys come from SSM, cached for CACHE_SECONDS."""
    lambda_app = make_lambda(
        clock=clock, ssm_cache_seconds=CACHE_SECONDS, ssm_max_stale_seconds=MAX_STALE_SECONDS
    )
    return SyncApiClient.aws_lambda(lambda_app)


def _register(api: SyncApiClient) -> Reply:
    return api.post(
        "/api/auth/register", json={"email": unique_email(), "password": STRONG_PASSWORD}
    )


def _me(api: SyncApiClient, access_token: str) -> Reply:
    return api.get("/api/auth/me", token=access_token)


def _kid(reply: Reply) -> str:
    return str(jwt.get_unverified_header(reply.body["access_token"])["kid"])


def _assert_secrets_unavailable(reply: Reply) -> None:
    assert reply.status == 503, reply
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.code == "secrets_unavailable"
    assert reply.headers["retry-after"].isdigit()


def _ssm_errors(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    """The "cannot read signing keys" lines logged since the last call: one per SSM attempt."""
    lines = log_records(capsys.readouterr().out)
    return [line for line in lines if line.get("message") == "cannot read signing keys from SSM"]


def test_a_cold_start_without_ssm_answers_503_and_recovers_without_a_restart(
    ssm: SsmEndpoint,
    clock: ManualClock,
    make_lambda: MakeLambda,
    capsys: pytest.CaptureFixture[str],
    record_property: Callable[[str, object], None],
) -> None:
    ssm.down()
    api = _cold_start(
        make_lambda, clock
    )  # a cold start reads no key yet: the environment comes up anyway
    capsys.readouterr()

    started = time.monotonic()
    _assert_secrets_unavailable(_register(api))
    failed_in = time.monotonic() - started
    started = time.monotonic()
    _assert_secrets_unavailable(_register(api))
    refused_in = time.monotonic() - started
    record_property(
        "terminal_summary",
        f"SSM down at a cold start: 503 in {failed_in * 1000:.0f} ms when SSM is asked, "
        f"{refused_in * 1000:.0f} ms within the 30 s without asking",
    )
    (error,) = _ssm_errors(capsys)
    assert error["level"] == "ERROR"
    assert error["parameters"] == PARAMETERS
    assert error["error"] == "ConnectionRefusedError"  # what failed, in a word
    assert "exception" not in error  # a clear line, not a stack trace
    # no crash loop: the invocation returned, and the environment still serves what needs no key
    assert api.get("/health").status == 200

    ssm.up()
    clock.advance(29)
    # SSM is not asked again within 30 s of a failure, even though it is back by now
    _assert_secrets_unavailable(_register(api))
    clock.advance(2)
    registered = _register(api)

    assert registered.status == 201
    assert _ssm_errors(capsys) == []


def test_after_a_first_read_the_last_keys_serve_through_an_outage_until_too_stale(
    ssm: SsmEndpoint,
    clock: ManualClock,
    make_lambda: MakeLambda,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = _cold_start(make_lambda, clock)
    before = _register(api)
    assert before.status == 201
    ssm.down()
    capsys.readouterr()

    clock.advance(CACHE_SECONDS + 1)  # the cached values expire: the next request asks SSM
    during = _register(api)
    assert during.status == 201
    assert _kid(during) == _kid(before)  # signed with the last key read
    assert len(_ssm_errors(capsys)) == 1
    clock.advance(29)
    assert _me(api, before.body["access_token"]).status == 200
    assert _ssm_errors(capsys) == []  # not asked again within 30 s of the failure
    clock.advance(2)
    assert _register(api).status == 201
    assert len(_ssm_errors(capsys)) == 1  # asked again, still down, still serving

    clock.advance(MAX_STALE_SECONDS - CACHE_SECONDS - 31)  # the keys were read that long ago
    _assert_secrets_unavailable(_register(api))
    _assert_secrets_unavailable(_me(api, before.body["access_token"]))
    assert api.get("/health").status == 200

    ssm.up()
    clock.advance(31)
    assert _register(api).status == 201
    assert _me(api, before.body["access_token"]).status == 200
