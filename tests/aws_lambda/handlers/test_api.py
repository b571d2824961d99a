"""The API handler: real event shapes in, API Gateway responses out, Powertools around it."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import TYPE_CHECKING

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import QueuePool

from authapi.key_material import (
    generate_data_key_entry,
    generate_private_key_pem,
    load_private_key,
    public_key_pem,
)
from authapi.resources import app_resources
from authapi.signing.keys import key_id
from tests.support.accounts import STRONG_PASSWORD, register, unique_email
from tests.support.aws import (
    NEXT_PUBLIC_KEY_PARAMETER,
    OAUTH_CLIENTS_PARAMETER,
    SIGNING_KEY_PARAMETER,
    MakeLambda,
    SsmEndpoint,
    load_event,
    put_keys,
)
from tests.support.clock import ManualClock
from tests.support.http import SyncApiClient
from tests.support.logs import emf_blobs, json_lines, metric_names
from tests.support.oauth import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    PUBLIC_CLIENT,
    registry_json,
)

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

pytestmark = pytest.mark.aws_lambda


@pytest.fixture
def api(ssm_with_key: SSMClient, make_lambda: MakeLambda) -> SyncApiClient:
    """The handler of a fresh execution environment, its keys in SSM."""
    return SyncApiClient.aws_lambda(make_lambda())


def _kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def _key_id_of(pem: str) -> str:
    return key_id(load_private_key(pem).public_key())


def test_full_session_through_http_api_events(api: SyncApiClient) -> None:
    email = unique_email()

    registered = api.send_event(load_event("register.json", email=email))
    assert registered.status == 201
    # production with the OAuth password grant off (the template's default): no login form
    form = api.send_event(load_event("login-form.json", email=email))
    assert (form.status, form.code) == (415, "unsupported_media_type")
    login = api.send_event(load_event("login.json", email=email))
    assert login.status == 200
    tokens = login.body
    # the OAuth token endpoint refreshes the JSON API's session as the default client
    oauth = api.send_event(load_event("oauth-token.json", refresh_token=tokens["refresh_token"]))
    assert oauth.status == 200, oauth
    assert (oauth.headers["cache-control"], oauth.headers["pragma"]) == ("no-store", "no-cache")
    tokens = oauth.body
    me = api.send_event(load_event("me.json", access_token=tokens["access_token"]))
    assert me.body["email"] == email
    refreshed = api.send_event(
        load_event("refresh-token.json", refresh_token=tokens["refresh_token"])
    )
    assert refreshed.status == 200
    assert refreshed.headers["cache-control"] == "no-store"
    new_access = refreshed.body["access_token"]
    logout = api.send_event(load_event("logout.json", access_token=new_access))
    assert logout.status == 204
    after = api.send_event(load_event("me.json", access_token=new_access))
    assert after.status == 401
    assert after.headers["content-type"] == "application/problem+json"


def test_rest_api_v1_event_with_base64_body(api: SyncApiClient) -> None:
    email = unique_email()

    response = api.send_event(load_event("rest-api-v1-register.json", email=email))

    assert response.status == 201
    assert response.body["user"]["email"] == email
    assert response.headers["x-request-id"] == "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def test_function_url_event(api: SyncApiClient) -> None:
    account = register(api)

    response = api.send_event(load_event("function-url-me.json", access_token=account.access_token))

    assert response.status == 200
    assert response.body["id"] == account.user_id
    assert response.headers["x-request-id"] == "5a3f0c2e-6a1b-4d8e-9f10-1234567890ab"


def test_alb_event(api: SyncApiClient) -> None:
    response = api.send_event(load_event("alb-health.json"))

    assert response.status == 200
    assert response.body == {"status": "ok", "database": "ok"}
    assert response.headers["x-request-id"] == "Root=1-6747a6c0-0123456789abcdef01234567"


def test_invocations_share_one_loop_and_one_connection(
    ssm_with_key: SSMClient, make_lambda: MakeLambda
) -> None:
    lambda_app = make_lambda()
    api = SyncApiClient.aws_lambda(lambda_app)
    account = register(api)  # the first invocation opens the one pooled connection
    connects: list[object] = []

    def count_connect(dbapi_connection: object, _record: object) -> None:
        connects.append(dbapi_connection)

    sa_event.listen(Engine, "connect", count_connect)
    try:
        loops = []
        for _ in range(3):
            response = api.send_event(load_event("me.json", access_token=account.access_token))
            assert response.status == 200
            loops.append(asyncio.get_event_loop())
    finally:
        sa_event.remove(Engine, "connect", count_connect)

    assert connects == []  # no new connection: the pool's one connection served every invocation
    assert all(loop is lambda_app.loop for loop in loops)
    pool = app_resources(lambda_app.app).database.engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.checkedin() == 1


@pytest.mark.parametrize("gateway_id", ["+Ab1CdEfGhIjKlM=", "/Ab1CdEfGhIjKlM=", "-Ab1CdEfGhIjKlM="])
def test_a_gateway_request_id_starting_with_any_base64_character_is_kept(
    api: SyncApiClient, gateway_id: str
) -> None:
    # API Gateway's ids are base64: about one in 32 starts with '+' or '/', and each used to be
    # swapped for an id of the app's own, breaking the correlation with API Gateway's logs
    event = load_event("health.json")
    event["requestContext"]["requestId"] = gateway_id
    assert api.send_event(event).headers["x-request-id"] == gateway_id


def test_correlation_id_is_the_gateway_request_id_everywhere(
    api: SyncApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event("health.json")
    gateway_id = event["requestContext"]["requestId"]
    capsys.readouterr()

    response = api.send_event(event)

    assert response.headers["x-request-id"] == gateway_id
    lines = [line for line in json_lines(capsys.readouterr().out) if "_aws" not in line]
    access = [line for line in lines if line.get("message") == "request completed"]
    assert len(access) == 1
    assert access[0]["correlation_id"] == gateway_id
    assert access[0]["request_id"] == gateway_id
    # Lambda context fields in every line written during the invocation
    assert access[0]["function_name"] == "authapi-local-ApiFunction"
    assert access[0]["cold_start"] is True
    assert "function_request_id" in access[0]


def test_emf_metrics_cold_start_once_and_business_metrics(
    api: SyncApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    email = unique_email()

    api.send_event(load_event("register.json", email=email))
    api.post("/api/auth/login", json={"email": email, "password": "wrong one!!"})
    tokens = api.send_event(load_event("login.json", email=email)).body
    refreshed = api.send_event(
        load_event("refresh-token.json", refresh_token=tokens["refresh_token"])
    )
    # the first token again, now two generations back: reuse, even within the reuse interval
    api.send_event(load_event("refresh-token.json", refresh_token=refreshed.body["refresh_token"]))
    api.send_event(load_event("refresh-token.json", refresh_token=tokens["refresh_token"]))
    api.send_event(load_event("logout.json", access_token=refreshed.body["access_token"]))

    output = capsys.readouterr().out
    blobs = emf_blobs(output)
    names = metric_names(output)
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


def test_logout_metric(api: SyncApiClient, capsys: pytest.CaptureFixture[str]) -> None:
    account = register(api)
    capsys.readouterr()

    api.send_event(load_event("logout.json", access_token=account.access_token))

    blobs = emf_blobs(capsys.readouterr().out)
    assert any(blob.get("Logout") == [1.0] or blob.get("Logout") == 1.0 for blob in blobs)


def test_exception_in_a_route_is_a_500_problem_and_a_metric(
    api: SyncApiClient,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    account = register(api)

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("something internal: /srv/secret")

    monkeypatch.setattr("authapi.auth.repository.get_principal_user", broken)
    capsys.readouterr()

    response = api.send_event(load_event("me.json", access_token=account.access_token))

    assert response.status == 500
    assert response.body["code"] == "internal_error"
    assert "secret" not in json.dumps(response.body)
    output = capsys.readouterr().out
    assert "UnhandledError" in metric_names(output)
    errors = [line for line in json_lines(output) if line.get("level") == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["exception_name"] == "RuntimeError"


def test_rotated_key_is_used_after_the_cache_age(ssm: SSMClient, make_lambda: MakeLambda) -> None:
    old_pem, new_pem = generate_private_key_pem(), generate_private_key_pem()
    put_keys(ssm, old_pem)
    clock = ManualClock()
    api = SyncApiClient.aws_lambda(make_lambda(clock=clock, ssm_cache_seconds=60))
    before = register(api)
    old_kid = _key_id_of(old_pem)
    assert _kid(before.access_token) == old_kid

    old_public = (
        load_private_key(old_pem)
        .public_key()
        .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    put_keys(ssm, new_pem, retired=old_public)
    still_cached = register(api)
    assert _kid(still_cached.access_token) == old_kid
    clock.advance(61)  # past the cache age, on the app's clock

    after = register(api)

    new_kid = _key_id_of(new_pem)
    assert _kid(after.access_token) == new_kid
    jwks = api.send_event(load_event("jwks.json")).body
    assert {key["kid"] for key in jwks["keys"]} == {old_kid, new_kid}
    # a token signed before the rotation still works: its key is retired, not gone
    me = api.send_event(load_event("me.json", access_token=before.access_token))
    assert me.status == 200


def test_ssm_failure_gives_503_and_a_clear_log_line(
    ssm: SSMClient, make_lambda: MakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    api = SyncApiClient.aws_lambda(make_lambda())  # no parameters exist under the prefix
    capsys.readouterr()

    response = api.send_event(load_event("register.json", email=unique_email()))

    assert response.status == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.body["code"] == "secrets_unavailable"
    assert response.headers["retry-after"]
    errors = [line for line in json_lines(capsys.readouterr().out) if line.get("level") == "ERROR"]
    assert errors[0]["message"] == "cannot read signing keys from SSM"
    assert SIGNING_KEY_PARAMETER in errors[0]["parameters"]
    # the service itself is still up and says so
    assert api.send_event(load_event("health.json")).status == 200


def test_a_token_signed_by_a_freshly_rotated_key_is_accepted_before_the_cache_expires(
    ssm: SSMClient, make_lambda: MakeLambda
) -> None:
    # two execution environments; the second reads SSM only after the rotation
    old_pem, new_pem = generate_private_key_pem(), generate_private_key_pem()
    put_keys(ssm, old_pem)
    stale = SyncApiClient.aws_lambda(make_lambda(ssm_cache_seconds=3600))
    account = register(stale)  # `stale` has read and cached the old key
    put_keys(ssm, new_pem)
    fresh = SyncApiClient.aws_lambda(make_lambda(ssm_cache_seconds=3600))
    login = fresh.post(
        "/api/auth/login", json={"email": account.email, "password": STRONG_PASSWORD}
    )
    new_token = login.body["access_token"]
    assert _kid(new_token) == _key_id_of(new_pem)

    # `stale` has never seen the new key, and its cache is good for an hour: it re-reads at once
    me = stale.send_event(load_event("me.json", access_token=new_token))

    assert me.status == 200


def test_forged_key_ids_do_not_flood_ssm(
    ssm_endpoint: SsmEndpoint, make_lambda: MakeLambda
) -> None:
    api = SyncApiClient.aws_lambda(make_lambda())
    account = register(api)
    _header, payload, signature = account.access_token.split(".")
    forged_header = jwt.utils.base64url_encode(
        json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": "not-a-key-we-know"}).encode()
    ).decode()
    forged = f"{forged_header}.{payload}.{signature}"
    assert ssm_endpoint.actions.count("GetParameters") == 1  # the keys, read once at first use
    ssm_endpoint.actions.clear()

    statuses = [
        api.send_event(load_event("me.json", access_token=forged)).status for _ in range(20)
    ]

    assert statuses == [401] * 20
    # what SSM itself saw: one early re-read, then the 30 s floor holds
    assert ssm_endpoint.actions.count("GetParameters") == 1


def test_without_a_next_key_parameter_the_ring_is_the_signing_key_alone(
    ssm_endpoint: SsmEndpoint, make_lambda: MakeLambda
) -> None:
    # SSM as it was before rotation existed: the fixture writes no jwt/next-public-key
    api = SyncApiClient.aws_lambda(make_lambda())
    account = register(api)

    jwks = api.send_event(load_event("jwks.json")).body

    assert [key["kid"] for key in jwks["keys"]] == [_kid(account.access_token)]
    assert api.send_event(load_event("me.json", access_token=account.access_token)).status == 200


def test_a_published_next_key_verifies_tokens_without_reading_ssm_again(
    ssm_endpoint: SsmEndpoint, make_lambda: MakeLambda
) -> None:
    ssm = ssm_endpoint.client()
    old_pem, next_pem = generate_private_key_pem(), generate_private_key_pem()
    put_keys(ssm, old_pem)
    ssm.put_parameter(
        Name=NEXT_PUBLIC_KEY_PARAMETER,
        Value=public_key_pem(load_private_key(next_pem).public_key()),
        Type="String",
        Overwrite=True,
    )
    stale = SyncApiClient.aws_lambda(make_lambda(ssm_cache_seconds=3600))
    account = register(stale)  # signs with the old key, and holds the next one's public half
    jwks = stale.send_event(load_event("jwks.json")).body
    assert [key["kid"] for key in jwks["keys"]] == [_key_id_of(old_pem), _key_id_of(next_pem)]
    put_keys(ssm, next_pem)  # promoted: an instance reading SSM now signs with it
    fresh = SyncApiClient.aws_lambda(make_lambda())
    login = fresh.post(
        "/api/auth/login", json={"email": account.email, "password": STRONG_PASSWORD}
    )
    assert _kid(login.body["access_token"]) == _key_id_of(next_pem)
    ssm_endpoint.actions.clear()

    me = stale.send_event(load_event("me.json", access_token=login.body["access_token"]))

    assert me.status == 200
    assert ssm_endpoint.actions == []  # known already: no re-read, no 30 s floor to fall under


def test_the_oauth_client_registry_comes_from_ssm_with_the_keys(
    ssm_endpoint: SsmEndpoint, make_lambda: MakeLambda
) -> None:
    client = ssm_endpoint.client()
    data_keys = generate_data_key_entry()
    put_keys(client, generate_private_key_pem(), data_keys=data_keys)
    client.put_parameter(
        Name=OAUTH_CLIENTS_PARAMETER,
        Value=registry_json(data_keys),
        Type="SecureString",
        Overwrite=True,
    )
    ssm_endpoint.actions.clear()
    api = SyncApiClient.aws_lambda(make_lambda())
    account = register(api)
    basic = base64.b64encode(f"{CONFIDENTIAL_CLIENT}:{CONFIDENTIAL_SECRET}".encode()).decode()

    introspected = api.post(
        "/api/v1/oauth/introspect",
        data={"token": account.access_token},
        headers={"Authorization": f"Basic {basic}"},
    )
    public = api.post(
        "/api/v1/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": account.refresh_token,
            "client_id": PUBLIC_CLIENT,
        },
    )

    assert introspected.status == 200, introspected
    assert introspected.body["active"] is True
    assert public.body["error"] == "invalid_grant"  # the JSON API's session, not this client's
    # the registry came in the keys' own GetParameters call
    assert ssm_endpoint.actions.count("GetParameters") == 1


def test_an_unreadable_registry_costs_the_oauth_clients_not_the_api(
    ssm_endpoint: SsmEndpoint, make_lambda: MakeLambda, capsys: pytest.CaptureFixture[str]
) -> None:
    ssm_endpoint.client().put_parameter(
        Name=OAUTH_CLIENTS_PARAMETER, Value='{"clients": [', Type="SecureString", Overwrite=True
    )
    api = SyncApiClient.aws_lambda(make_lambda())
    account = register(api)  # the JSON API works
    refused = api.post(
        "/api/v1/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": account.refresh_token,
            "client_id": PUBLIC_CLIENT,
        },
    )
    assert (refused.status, refused.body["error"]) == (400, "invalid_client")
    errors = [line for line in json_lines(capsys.readouterr().out) if line.get("level") == "ERROR"]
    assert [line["message"] for line in errors] == [
        "oauth client registry is unusable; only the default client is served"
    ]
