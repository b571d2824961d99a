"""Behind an ALB, each client is counted by the entry the ALB itself appended to
X-Forwarded-For, whether the target group sends single- or multi-value headers."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.aws import MakeLambda, load_event
from tests.support.http import SyncApiClient, unique_client_ip
from tests.support.problems import assert_problem

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

pytestmark = pytest.mark.aws_lambda


def _alb_register(forwarded_for: list[str] | None) -> dict[str, Any]:
    """A registration as an ALB target group with multi-value headers delivers it."""
    event = load_event("alb-health.json")
    headers = event.pop("headers")
    headers.pop("x-forwarded-for")
    headers["content-type"] = "application/json"
    event["multiValueHeaders"] = {name: [value] for name, value in headers.items()}
    if forwarded_for is not None:
        event["multiValueHeaders"]["x-forwarded-for"] = forwarded_for
    event["multiValueQueryStringParameters"] = event.pop("queryStringParameters")
    event.update(
        httpMethod="POST",
        path="/api/auth/register",
        body=json.dumps({"email": unique_email(), "password": STRONG_PASSWORD}),
    )
    return event


def test_each_client_behind_an_alb_has_its_own_limit(
    ssm_with_key: SSMClient, make_lambda: MakeLambda
) -> None:
    api = SyncApiClient.aws_lambda(make_lambda(rate_limit_register=10))
    # 12 clients, each sending a forged header of its own first, as the attack did
    statuses = [
        api.send_event(_alb_register(["6.6.6.6", unique_client_ip()])).status for _ in range(12)
    ]
    assert statuses == [201] * 12


def test_an_alb_request_without_an_address_is_refused(
    ssm_with_key: SSMClient, make_lambda: MakeLambda
) -> None:
    api = SyncApiClient.aws_lambda(make_lambda())
    assert_problem(api.send_event(_alb_register(None)), 400, "client_address_unknown")
