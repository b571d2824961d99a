"""The API handler: real event shapes in, API Gateway responses out, Powertools around it."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine

from authapi.auth.keys import generate_private_key_pem, key_id, load_private_key
from authapi.handlers.lambda_app import LambdaApp
from devtools.lambda_events import json_request, response_json
from tests.aws_lambda.conftest import invoke, load_event, put_signing_key
from tests.support import STRONG_PASSWORD, unique_email

pytestmark = pytest.mark.aws_lambda

MakeLambda = Callable[..., LambdaApp]


def _json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def _emf_blobs(output: str) -> list[dict[str, Any]]:
    return [line for line in _json_lines(output) if "_aws" in line]


def _register(lambda_app: LambdaApp, email: str | None = None) -> dict[str, Any]:
    response = invoke(
        lambda_app.handler,
        json_request(
            "POST",
            "/api/auth/register",
            {"email": email or unique_email(), "password": STRONG_PASSWORD},
        ),
    )
    assert response["statusCode"] == 201, response
    body: dict[str, Any] = response_json(response)
    return body


def test_full_session_through_http_api_events(ssm_with_key: Any, make_lambda: MakeLambda) -> None:
    lambda_app = make_lambda()
    email = unique_email()

    registered = invoke(lambda_app.handler, load_event("register.json", email=email))
    assert registered["statusCode"] == 201
    login = invoke(lambda_app.handler, load_event("login-form.json", email=email))
    assert login["statusCode"] == 200
    tokens = response_json(login)
    me = invoke(lambda_app.handler, load_event("me.json", access_token=tokens["access_token"]))
    assert response_json(me)["email"] == email
    refreshed = invoke(
        lambda_app.handler, load_event("refresh-token.json", refresh_token=tokens["refresh_token"])
    )
    assert refreshed["statusCode"] == 200
    assert refreshed["headers"]["cache-control"] == "no-store"
    new_access = response_json(refreshed)["access_token"]
    logout = invoke(lambda_app.handler, load_event("logout.json", access_token=new_access))
    assert logout["statusCode"] == 204
    after = invoke(lambda_app.handler, load_event("me.json", access_token=new_access))
    assert after["statusCode"] == 401
    assert after["headers"]["content-type"] == "application/problem+json"


def test_rest_api_v1_event_with_base64_body(ssm_with_key: Any, make_lambda: MakeLambda) -> None:
    lambda_app = make_lambda()
    email = unique_email()

    response = invoke(lambda_app.handler, load_event("rest-api-v1-register.json", email=email))

    assert response["statusCode"] == 201
    assert response_json(response)["user"]["email"] == email
    assert response["headers"]["x-request-id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def test_function_url_event(ssm_with_key: Any, make_lambda: MakeLambda) -> None:
    lambda_app = make_lambda()
    account = _register(lambda_app)

    response = invoke(
        lambda_app.handler, load_event("function-url-me.json", access_token=account["access_token"])
    )

    assert response["statusCode"] == 200
    assert response_json(response)["id"] == account["user"]["id"]
    assert response["headers"]["x-request-id"] == "5a3f0c2e-6a1b-4d8e-9f10-1234567890ab"


def test_alb_event(ssm_with_key: Any, make_lambda: MakeLambda) -> None:
    lambda_app = make_lambda()

    response = invoke(lambda_app.handler, load_event("alb-health.json"))

    assert response["statusCode"] == 200
    assert response_json(response) == {"status": "ok", "database": "ok"}
    assert response["headers"]["x-request-id"] == "Root=1-6747a6c0-0123456789abcdef01234567"


def test_invocations_share_one_loop_and_one_connection(
    ssm_with_key: Any, make_lambda: MakeLambda, test_database: Any
) -> None:
    lambda_app = make_lambda()
    account = _register(lambda_app)  # the first invocation opens the one pooled connection
    connects: list[object] = []

    def count_connect(dbapi_connection: object, _record: object) -> None:
        connects.append(dbapi_connection)

    sa_event.listen(Engine, "connect", count_connect)
    try:
        loops = []
        for _ in range(3):
            response = invoke(
                lambda_app.handler, load_event("me.json", access_token=account["access_token"])
            )
            assert response["statusCode"] == 200
            loops.append(asyncio.get_event_loop())
    finally:
        sa_event.remove(Engine, "connect", count_connect)

    assert connects == []  # no new connection: the pool's one connection served every invocation
    assert all(loop is lambda_app.loop for loop in loops)
    pool = lambda_app.app.state.resources.database.engine.pool
    assert pool.checkedin() == 1


def test_correlation_id_is_the_gateway_request_id_everywhere(
    ssm_with_key: Any, make_lambda: MakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    lambda_app = make_lambda()
    event = load_event("health.json")
    gateway_id = event["requestContext"]["requestId"]
    capsys.readouterr()

    response = invoke(lambda_app.handler, event)

    assert response["headers"]["x-request-id"] == gateway_id
    lines = [line for line in _json_lines(capsys.readouterr().out) if "_aws" not in line]
    access = [line for line in lines if line.get("message") == "request completed"]
    assert len(access) == 1
    assert access[0]["correlation_id"] == gateway_id
    assert access[0]["request_id"] == gateway_id
    # Lambda context fields in every line written during the invocation
    assert access[0]["function_name"] == "authapi-local-ApiFunction"
    assert access[0]["cold_start"] is True
    assert "function_request_id" in access[0]


def test_emf_metrics_cold_start_once_and_business_metrics(
    ssm_with_key: Any, make_lambda: MakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    lambda_app = make_lambda()
    capsys.readouterr()
    email = unique_email()

    invoke(lambda_app.handler, load_event("register.json", email=email))
    invoke(
        lambda_app.handler,
        json_request("POST", "/api/auth/login", {"email": email, "password": "wrong one!!"}),
    )
    tokens = response_json(invoke(lambda_app.handler, load_event("login.json", email=email)))
    refreshed = invoke(
        lambda_app.handler, load_event("refresh-token.json", refresh_token=tokens["refresh_token"])
    )
    invoke(
        lambda_app.handler, load_event("refresh-token.json", refresh_token=tokens["refresh_token"])
    )
    invoke(
        lambda_app.handler,
        load_event("logout.json", access_token=response_json(refreshed)["access_token"]),
    )

    blobs = _emf_blobs(capsys.readouterr().out)
    names = [
        metric["Name"]
        for blob in blobs
        for directive in blob["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    ]
    assert all(
        directive["Namespace"] == "authapi"
        for blob in blobs
        for directive in blob["_aws"]["CloudWatchMetrics"]
    )
    assert names.count("ColdStart") == 1
    for expected in (
        "UserRegistered",
        "LoginFailed",
        "LoginSucceeded",
        "TokenRefreshed",
        "RefreshTokenReused",
    ):
        assert expected in names
    # logout's session was already revoked by the reuse: the 401 is not a Logout
    assert "Logout" not in names
    business = [blob for blob in blobs if "UserRegistered" in blob]
    assert business[0]["service"] == "authapi"


def test_logout_metric(
    ssm_with_key: Any, make_lambda: MakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    lambda_app = make_lambda()
    account = _register(lambda_app)
    capsys.readouterr()

    invoke(lambda_app.handler, load_event("logout.json", access_token=account["access_token"]))

    blobs = _emf_blobs(capsys.readouterr().out)
    assert any(blob.get("Logout") == [1.0] or blob.get("Logout") == 1.0 for blob in blobs)


def test_exception_in_a_route_is_a_500_problem_and_a_metric(
    ssm_with_key: Any,
    make_lambda: MakeLambda,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    lambda_app = make_lambda()
    account = _register(lambda_app)

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("something internal: /srv/secret")

    monkeypatch.setattr("authapi.users.repository.get_user_in_live_session", broken)
    capsys.readouterr()

    response = invoke(
        lambda_app.handler, load_event("me.json", access_token=account["access_token"])
    )

    assert response["statusCode"] == 500
    body = response_json(response)
    assert body["code"] == "internal_error"
    assert "secret" not in json.dumps(body)
    output = capsys.readouterr().out
    names = [
        m["Name"]
        for b in _emf_blobs(output)
        for d in b["_aws"]["CloudWatchMetrics"]
        for m in d["Metrics"]
    ]
    assert "UnhandledError" in names
    errors = [line for line in _json_lines(output) if line.get("level") == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["exception_name"] == "RuntimeError"


def test_rotated_key_is_used_after_the_cache_age(ssm: Any, make_lambda: MakeLambda) -> None:
    old_pem, new_pem = generate_private_key_pem(), generate_private_key_pem()
    put_signing_key(ssm, old_pem)
    lambda_app = make_lambda(ssm_cache_seconds=1)
    before = _register(lambda_app)
    old_kid = key_id(load_private_key(old_pem).public_key())
    assert jwt.get_unverified_header(before["access_token"])["kid"] == old_kid

    old_public = (
        load_private_key(old_pem)
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    put_signing_key(ssm, new_pem, retired=old_public)
    still_cached = _register(lambda_app)
    assert jwt.get_unverified_header(still_cached["access_token"])["kid"] == old_kid
    time.sleep(1.2)

    after = _register(lambda_app)

    new_kid = key_id(load_private_key(new_pem).public_key())
    assert jwt.get_unverified_header(after["access_token"])["kid"] == new_kid
    jwks = response_json(invoke(lambda_app.handler, load_event("jwks.json")))
    assert {key["kid"] for key in jwks["keys"]} == {old_kid, new_kid}
    # a token signed before the rotation still works: its key is retired, not gone
    me = invoke(lambda_app.handler, load_event("me.json", access_token=before["access_token"]))
    assert me["statusCode"] == 200


def test_ssm_failure_gives_503_and_a_clear_log_line(
    ssm: Any, make_lambda: MakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    lambda_app = make_lambda()  # no parameters exist under the prefix
    capsys.readouterr()

    response = invoke(lambda_app.handler, load_event("register.json", email=unique_email()))

    assert response["statusCode"] == 503
    assert response["headers"]["content-type"] == "application/problem+json"
    body = response_json(response)
    assert body["code"] == "secrets_unavailable"
    assert response["headers"]["retry-after"]
    errors = [line for line in _json_lines(capsys.readouterr().out) if line.get("level") == "ERROR"]
    assert errors[0]["message"] == "cannot read signing keys from SSM"
    assert "/authapi/test/jwt/signing-key" in errors[0]["parameters"]
    # the service itself is still up and says so
    assert invoke(lambda_app.handler, load_event("health.json"))["statusCode"] == 200


def test_a_token_signed_by_a_freshly_rotated_key_is_accepted_before_the_cache_expires(
    ssm: Any, make_lambda: MakeLambda
) -> None:
    # two execution environments; the second reads SSM only after the rotation
    old_pem, new_pem = generate_private_key_pem(), generate_private_key_pem()
    put_signing_key(ssm, old_pem)
    stale = make_lambda(ssm_cache_seconds=3600)
    account = _register(stale)  # `stale` has read and cached the old key
    put_signing_key(ssm, new_pem)
    fresh = make_lambda(ssm_cache_seconds=3600)
    login = invoke(
        fresh.handler,
        json_request(
            "POST",
            "/api/auth/login",
            {"email": account["user"]["email"], "password": STRONG_PASSWORD},
        ),
    )
    new_token = response_json(login)["access_token"]
    assert jwt.get_unverified_header(new_token)["kid"] == key_id(
        load_private_key(new_pem).public_key()
    )

    # `stale` has never seen the new key, and its cache is good for an hour: it re-reads at once
    me = invoke(stale.handler, load_event("me.json", access_token=new_token))

    assert me["statusCode"] == 200


def test_forged_key_ids_do_not_flood_ssm(ssm_with_key: Any, make_lambda: MakeLambda) -> None:
    from unittest import mock

    lambda_app = make_lambda()
    account = _register(lambda_app)
    _header, payload, signature = account["access_token"].split(".")
    forged_header = jwt.utils.base64url_encode(
        json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": "not-a-key-we-know"}).encode()
    ).decode()
    forged = f"{forged_header}.{payload}.{signature}"
    ssm_client = lambda_app.app.state.resources.key_provider._provider.client

    with mock.patch.object(ssm_client, "get_parameters", wraps=ssm_client.get_parameters) as calls:
        statuses = [
            invoke(lambda_app.handler, load_event("me.json", access_token=forged))["statusCode"]
            for _ in range(20)
        ]

    assert statuses == [401] * 20
    assert calls.call_count == 1  # one early re-read, then the 30 s floor holds
