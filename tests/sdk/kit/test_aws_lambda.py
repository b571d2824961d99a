"""Typed claims from the event API Gateway's JWT authorizer hands a function: every claim a
string, arrays flattened. Tokens from the real app pass through the project's stand-in for the
authorizer (devtools/jwt_authorizer.py, which tests/devtools/test_jwt_authorizer.py holds to
API Gateway's behaviour), and an event in exactly AWS's shape is parsed as well."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from resource_server import lambda_function

from authapi_client.aws_lambda import claims_from_event, parse_api_gateway_claims
from authapi_client.verify import TokenInvalid
from devtools.jwt_authorizer import JwtAuthorizer
from devtools.lambda_events import http_api_event
from tests.sdk.kit.service import BlockingService
from tests.support.http import ApiClient
from tests.support.mfa import MFA, challenge_of, enrolled

pytestmark = pytest.mark.integration

AWS_EVENT = Path(__file__).parent / "events" / "http_api_jwt_authorizer.json"
WHOAMI = "/api/v1/examples/whoami"


def _authorized_event(service: BlockingService, token: str) -> dict[str, Any]:
    """The event a route behind the JWT authorizer gets, as the local cloud builds it."""
    authorizer = JwtAuthorizer(
        issuer=service.settings.jwt_issuer,
        audience=[service.settings.jwt_audience],
        fetch=lambda path: service.http.get(path).json(),
    )
    headers = {"authorization": f"Bearer {token}"}
    event = http_api_event("GET", WHOAMI, headers=headers)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"GET {WHOAMI}"
    claims = authorizer.claims(headers)
    event["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return event


def _mfa_token(service: BlockingService) -> str:
    # enrolling moves the service's clock 90 s on; the authorizer reads the wall clock
    service.clock.advance(-120)

    async def signed_in() -> str:
        async with ApiClient.asgi(service.app, client_ip=service.client_ip) as api:
            user = await enrolled(api, service.clock)
            challenge = await challenge_of(api, user)
            body = {"challenge": challenge, "code": user.code(service.clock)}
            reply = await api.post(f"{MFA}/challenge", json=body)
        assert reply.status == 200, reply.body
        return str(reply.body["access_token"])

    return service.loop.run(signed_in())


def test_a_real_token_through_the_authorizer_gives_the_verifiers_claims(
    blocking_service: BlockingService,
) -> None:
    token = blocking_service.account().access_token
    event = _authorized_event(blocking_service, token)
    assert isinstance(event["requestContext"]["authorizer"]["jwt"]["claims"]["exp"], str)

    claims = claims_from_event(event, issuer="authapi", audience="authapi")

    # the same typed claims as verifying the token offline
    assert claims == blocking_service.verifier().verify(token)
    assert isinstance(claims.exp, int)
    assert claims.amr == ("pwd",)
    assert claims.email_verified is False
    assert claims.aud == ("authapi",)


def test_flattened_arrays_and_numbers_of_an_mfa_session_are_parsed_back(
    blocking_service: BlockingService,
) -> None:
    token = _mfa_token(blocking_service)
    event = _authorized_event(blocking_service, token)
    passed = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert (passed["amr"], passed["aal"]) == ("[pwd otp]", "2")

    claims = claims_from_event(event)

    assert claims.amr == ("pwd", "otp")
    assert (claims.aal, claims.acr, claims.second_factor) == (2, "urn:authapi:aal2", True)
    assert claims == blocking_service.verifier().verify(token)


def test_a_token_of_another_use_passes_the_authorizer_but_not_the_helper(
    blocking_service: BlockingService,
) -> None:
    # API Gateway checks signature, iss, aud and times only: token_use is ours to check
    forge = blocking_service.forge
    event = _authorized_event(blocking_service, forge.sign(forge.claims(token_use="mfa_enrol")))

    with pytest.raises(TokenInvalid, match="token_use"):
        claims_from_event(event)
    assert lambda_function.handler(event, None)["statusCode"] == 401


def test_an_event_in_aws_shape_is_parsed() -> None:
    event = json.loads(AWS_EVENT.read_text())

    claims = claims_from_event(event, issuer="https://auth.example.com", audience="authapi")

    assert claims.sub == "0b6f3c2a-1d4e-4f5a-9b8c-7d6e5f4a3b2c"
    assert (claims.iat, claims.exp, claims.mfa_time) == (1764849630, 1764851400, 1764849630)
    assert claims.amr == ("pwd", "otp")
    assert claims.email_verified is True  # AWS writes booleans "true"
    assert claims.aal == 2


def test_powertools_event_class_gives_the_same_claims() -> None:
    event = json.loads(AWS_EVENT.read_text())
    assert claims_from_event(APIGatewayProxyEventV2(event)) == claims_from_event(event)


def test_the_example_lambda_answers_typed_claims() -> None:
    event = json.loads(AWS_EVENT.read_text())
    response = lambda_function.handler(event, None)  # issuer "authapi" by default: refused
    assert response["statusCode"] == 401

    event["requestContext"]["authorizer"]["jwt"]["claims"]["iss"] = "authapi"
    response = lambda_function.handler(event, None)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {
        "sub": "0b6f3c2a-1d4e-4f5a-9b8c-7d6e5f4a3b2c",
        "amr": ["pwd", "otp"],
        "aal": 2,
        "exp": 1764851400,
    }


def _claims(**changes: Any) -> dict[str, Any]:
    claims = json.loads(AWS_EVENT.read_text())["requestContext"]["authorizer"]["jwt"]["claims"]
    claims.update(changes)
    kept = {name: value for name, value in claims.items() if value is not None}
    return {"requestContext": {"authorizer": {"jwt": {"claims": kept}}}}


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({}, "no JWT authorizer claims"),
        ({"requestContext": {"authorizer": {"jwt": {"claims": {}}}}}, "no JWT authorizer"),
        (_claims(sid=None), "sid missing"),
        (_claims(exp="soon"), "exp is not a number"),
        (_claims(amr="pwd"), "amr is not an array"),
        (_claims(email_verified="yes"), "email_verified is not a boolean"),
        (_claims(token_use="refresh"), "token_use"),
    ],
)
def test_what_the_helper_refuses(event: dict[str, Any], reason: str) -> None:
    with pytest.raises(TokenInvalid, match=reason):
        claims_from_event(event)


def test_iss_and_aud_are_checked_again_when_given() -> None:
    event = json.loads(AWS_EVENT.read_text())
    with pytest.raises(TokenInvalid, match="issuer"):
        claims_from_event(event, issuer="authapi")
    with pytest.raises(TokenInvalid, match="audience"):
        claims_from_event(event, audience="billing")


@pytest.mark.parametrize(
    ("passed", "parsed"),
    [
        ({"exp": "1764851400"}, {"exp": 1764851400}),
        ({"exp": "1.7648514E9"}, {"exp": 1764851400}),
        ({"email_verified": "True"}, {"email_verified": True}),
        ({"amr": "[]"}, {"amr": []}),
        ({"amr": "[pwd]"}, {"amr": ["pwd"]}),
        ({"aud": "[authapi billing]"}, {"aud": ["authapi", "billing"]}),
        ({"aud": "authapi"}, {"aud": "authapi"}),
        ({"sub": "[not an array claim]"}, {"sub": "[not an array claim]"}),
        ({"exp": 1764851400}, {"exp": 1764851400}),
    ],
)
def test_api_gateway_strings_parse_back(passed: dict[str, Any], parsed: dict[str, Any]) -> None:
    assert parse_api_gateway_claims(passed) == parsed


def test_scopes_the_authorizer_lists_become_the_scope_claim() -> None:
    event = json.loads(AWS_EVENT.read_text())
    event["requestContext"]["authorizer"]["jwt"]["scopes"] = ["read:things", "write:things"]
    assert claims_from_event(event).scope == ("read:things", "write:things")
