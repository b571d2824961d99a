"""The example resource server answers what the JWT authorizer verified, and nothing without it."""

from __future__ import annotations

import json

import pytest

from authapi.handlers.whoami import handler
from devtools.lambda_events import http_api_event, lambda_context

pytestmark = pytest.mark.aws_lambda


def test_it_answers_the_authorizers_claims() -> None:
    event = http_api_event("GET", "/api/v1/examples/whoami")
    claims = {"sub": "3f1c", "iss": "https://auth.example.com", "exp": "1796000000"}
    event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}

    response = handler(event, lambda_context("WhoAmIFunction"))

    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"sub": "3f1c", "claims": claims}
    assert response["headers"]["cache-control"] == "no-store"


def test_without_an_authorizer_it_answers_for_nobody() -> None:
    response = handler(http_api_event("GET", "/api/v1/examples/whoami"), lambda_context())

    assert response["statusCode"] == 401
