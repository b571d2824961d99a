"""POST /api/v1/oauth/token driven by Authlib's client, as an integrator would: each failure is
the library's own OAuthError, carrying RFC 6749's `error`."""

from __future__ import annotations

import base64
import uuid

import pytest
from authlib.integrations.base_client.errors import OAuthError
from fastapi import FastAPI

from authapi.auth import second_factor
from tests.support.accounts import Account, register
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, ClientWith
from tests.support.oauth import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    OAUTH_SETTINGS,
    OTHER_PUBLIC_CLIENT,
    PUBLIC_CLIENT,
    TOKEN,
    TOKEN_URL,
    oauth_client,
)

pytestmark = pytest.mark.integration

FORM = {"content-type": "application/x-www-form-urlencoded"}


async def _password_grant(app: FastAPI, account: Account, **client: str) -> dict[str, object]:
    async with oauth_client(app, **client) as oauth:
        return dict(
            await oauth.fetch_token(
                TOKEN_URL, grant_type="password", username=account.email, password=account.password
            )
        )


async def test_log_in_refresh_twice_then_reuse_each_failure_a_library_error(
    oauth_app: FastAPI, api: ApiClient
) -> None:
    account = await register(api)
    async with oauth_client(oauth_app) as oauth:
        token = await oauth.fetch_token(
            TOKEN_URL, grant_type="password", username=account.email, password=account.password
        )
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 1800
        assert "scope" not in token
        first = token["refresh_token"]
        second = (await oauth.refresh_token(TOKEN_URL, refresh_token=first))["refresh_token"]
        third = (await oauth.refresh_token(TOKEN_URL, refresh_token=second))["refresh_token"]
        assert len({first, second, third}) == 3
        me = await api.get("/api/v1/auth/me", token=oauth.token["access_token"])
        assert me.status == 200
        # two generations back: reuse, and the whole session ends
        with pytest.raises(OAuthError) as reused:
            await oauth.refresh_token(TOKEN_URL, refresh_token=first)
        assert reused.value.error == "invalid_grant"
        with pytest.raises(OAuthError) as ended:
            await oauth.refresh_token(TOKEN_URL, refresh_token=third)
        assert ended.value.error == "invalid_grant"
        with pytest.raises(OAuthError) as wrong_password:
            await oauth.fetch_token(
                TOKEN_URL, grant_type="password", username=account.email, password="not it at all"
            )
        assert wrong_password.value.error == "invalid_grant"
        with pytest.raises(OAuthError) as unsupported:
            await oauth.fetch_token(TOKEN_URL, grant_type="client_credentials")
        assert unsupported.value.error == "unsupported_grant_type"
    async with oauth_client(oauth_app, client_id="nobody-registered-this") as stranger:
        with pytest.raises(OAuthError) as unknown:
            await stranger.refresh_token(TOKEN_URL, refresh_token=third)
        assert unknown.value.error == "invalid_client"
    async with oauth_client(
        oauth_app, client_id=CONFIDENTIAL_CLIENT, client_secret="cs_" + "x" * 43
    ) as impostor:
        with pytest.raises(OAuthError) as wrong_secret:
            await impostor.refresh_token(TOKEN_URL, refresh_token=third)
        assert wrong_secret.value.error == "invalid_client"


async def test_success_and_error_bodies_and_headers_follow_rfc_6749(
    oauth_app: FastAPI, api: ApiClient
) -> None:
    account = await register(api)
    token = await _password_grant(oauth_app, account)
    reply = await api.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": str(token["refresh_token"]),
            "client_id": PUBLIC_CLIENT,
        },
        headers={"X-Request-ID": "oauth-trace-1"},
    )
    assert reply.status == 200
    assert set(reply.body) == {"access_token", "token_type", "expires_in", "refresh_token"}
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["pragma"] == "no-cache"
    assert reply.headers["x-request-id"] == "oauth-trace-1"

    spent = await api.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": "rt_" + "A" * 43,
            "client_id": PUBLIC_CLIENT,
        },
        headers={"X-Request-ID": "oauth-trace-2"},
    )
    assert spent.status == 400
    assert spent.headers["content-type"] == "application/json"
    assert spent.body == {
        "error": "invalid_grant",
        "error_description": spent.body["error_description"],
        "code": "invalid_refresh_token",
        "request_id": "oauth-trace-2",
    }
    assert "www-authenticate" not in spent.headers

    basic = base64.b64encode(f"{CONFIDENTIAL_CLIENT}:cs_wrong".encode()).decode()
    refused = await api.post(
        TOKEN,
        data={"grant_type": "refresh_token", "refresh_token": "rt_whatever"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert (refused.status, refused.body["error"]) == (401, "invalid_client")
    assert refused.headers["www-authenticate"].startswith("Basic")
    unknown = await api.post(
        TOKEN, data={"grant_type": "refresh_token", "refresh_token": "rt_x", "client_id": "who"}
    )
    assert (unknown.status, unknown.body["error"]) == (400, "invalid_client")
    assert "www-authenticate" not in unknown.headers
    # a confidential client must authenticate: naming it in the body is not enough
    unauthenticated = await api.post(
        TOKEN,
        data={
            "grant_type": "refresh_token",
            "refresh_token": "rt_x",
            "client_id": CONFIDENTIAL_CLIENT,
        },
    )
    assert (unauthenticated.status, unauthenticated.body["error"]) == (400, "invalid_client")

    for body, code in (
        ({}, "invalid_request"),
        ({"grant_type": "refresh_token", "client_id": PUBLIC_CLIENT}, "invalid_request"),
        ({"grant_type": "authorization_code"}, "unsupported_grant_type"),
    ):
        reply = await api.post(TOKEN, data=body)
        assert (reply.status, reply.body["error"]) == (400, code), body
    twice = await api.post(
        TOKEN, content="grant_type=refresh_token&grant_type=password&x=1&x=2", headers=FORM
    )
    assert (twice.status, twice.body["error"]) == (400, "invalid_request")
    assert "grant_type" in twice.body["error_description"]
    assert "x" not in twice.body["error_description"].split(": ", 1)[1]  # unknown: ignored
    as_json = await api.post(TOKEN, json={"grant_type": "refresh_token"})
    assert (as_json.status, as_json.body["error"]) == (400, "invalid_request")
    assert as_json.body["code"] == "unsupported_media_type"
    # the abuse layer's cross-site rule: a form another site's page made a browser post
    cross_site = await api.post(
        TOKEN,
        data={"grant_type": "password", "username": account.email, "password": account.password},
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    )
    assert (cross_site.status, cross_site.body["code"]) == (400, "cross_site_request")


async def test_a_confidential_client_uses_client_secret_basic(
    oauth_app: FastAPI, api: ApiClient
) -> None:
    account = await register(api)
    token = await _password_grant(
        oauth_app, account, client_id=CONFIDENTIAL_CLIENT, client_secret=CONFIDENTIAL_SECRET
    )
    async with oauth_client(
        oauth_app, client_id=CONFIDENTIAL_CLIENT, client_secret=CONFIDENTIAL_SECRET
    ) as oauth:
        refreshed = await oauth.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]


@pytest.mark.head_schema  # sessions record their client from migration 0008 on
async def test_a_refresh_token_presented_by_another_client_is_invalid_grant(
    oauth_app: FastAPI, api: ApiClient
) -> None:
    account = await register(api)  # the JSON API's session: the default client's
    token = await _password_grant(oauth_app, account)
    async with oauth_client(oauth_app, client_id=OTHER_PUBLIC_CLIENT) as other:
        with pytest.raises(OAuthError) as refused:
            await other.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"])
        assert refused.value.error == "invalid_grant"
        with pytest.raises(OAuthError):
            await other.refresh_token(TOKEN_URL, refresh_token=account.refresh_token)
    # nothing was spent or revoked: each token still works for its own client
    json_refresh = await api.post(
        "/api/v1/auth/refresh-token", json={"refresh_token": account.refresh_token}
    )
    assert json_refresh.status == 200
    mobile_on_json = await api.post(
        "/api/v1/auth/refresh-token", json={"refresh_token": token["refresh_token"]}
    )
    assert mobile_on_json.code == "invalid_refresh_token"
    async with oauth_client(oauth_app) as own:
        assert (await own.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"]))[
            "refresh_token"
        ]


async def test_the_default_client_refreshes_a_json_login_here(
    oauth_app: FastAPI, api: ApiClient
) -> None:
    account = await register(api)
    async with oauth_client(oauth_app, client_id="default") as oauth:
        token = await oauth.refresh_token(TOKEN_URL, refresh_token=account.refresh_token)
    assert token["refresh_token"].startswith("rt_")


async def test_twenty_concurrent_refreshes_within_the_reuse_interval_converge(
    client_with: ClientWith, test_database: ScratchDatabase
) -> None:
    # a connection per request: the twenty really race for the token's row in PostgreSQL
    async with client_with(**OAUTH_SETTINGS, db_pool_size=20, db_max_overflow=0) as api:
        account = await register(api)
        signed_in = await api.post(
            TOKEN,
            data={
                "grant_type": "password",
                "username": account.email,
                "password": account.password,
                "client_id": PUBLIC_CLIENT,
            },
        )
        body = {
            "grant_type": "refresh_token",
            "refresh_token": str(signed_in.body["refresh_token"]),
            "client_id": PUBLIC_CLIENT,
        }
        replies = await api.gather(20, lambda: api.post(TOKEN, data=body))
    assert [reply.status for reply in replies] == [200] * 20, [r.body for r in replies]
    assert len({reply.body["refresh_token"] for reply in replies}) == 1
    # one rotation: the presented token spent once, one successor, the session still live
    (session,) = await test_database.fetch(  # the password grant's: the account's newest
        "SELECT id, revoke_reason FROM auth_sessions WHERE user_id = $1"
        " ORDER BY created_at DESC LIMIT 1",
        uuid.UUID(account.user_id),
    )
    assert session["revoke_reason"] is None
    spent = await test_database.fetch(
        "SELECT consumed_at IS NOT NULL AS spent FROM refresh_tokens WHERE session_id = $1"
        " ORDER BY created_at",
        session["id"],
    )
    assert [row["spent"] for row in spent] == [True, False]


@pytest.mark.head_schema  # sessions' clients (0008), accounts' verification (0010)
async def test_an_unverified_account_gets_invalid_grant_and_another_client_learns_nothing(
    client_with: ClientWith,
) -> None:
    async with client_with(**OAUTH_SETTINGS) as api:
        account = await register(api)  # registered while verification was not required
    async with client_with(**OAUTH_SETTINGS, require_verified_email=True) as api:
        grant = {"grant_type": "refresh_token", "refresh_token": account.refresh_token}
        stranger = await api.post(TOKEN, data={**grant, "client_id": OTHER_PUBLIC_CLIENT})
        assert (stranger.status, stranger.body["error"]) == (400, "invalid_grant")
        assert stranger.body["code"] == "invalid_refresh_token"
        own = await api.post(TOKEN, data={**grant, "client_id": "default"})
        assert (own.status, own.body["error"]) == (400, "invalid_grant")
        assert own.body["code"] == "email_not_verified"


async def test_password_grant_is_off_by_default(client: ApiClient) -> None:
    reply = await client.post(
        TOKEN,
        data={"grant_type": "password", "username": "a@example.com", "password": "x" * 12},
    )
    assert (reply.status, reply.body["error"]) == (400, "unsupported_grant_type")


async def test_an_mfa_account_gets_invalid_grant_mfa_required(
    oauth_app: FastAPI, api: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = await register(api)
    monkeypatch.setattr(second_factor, "password_grant_policy", lambda user, *, has_factor: True)
    reply = await api.post(
        TOKEN,
        data={
            "grant_type": "password",
            "username": account.email,
            "password": account.password,
            "client_id": PUBLIC_CLIENT,
        },
    )
    assert (reply.status, reply.body["error"]) == (400, "invalid_grant")
    assert reply.body["error_description"] == "mfa_required"
    assert reply.body["code"] == "mfa_required"


async def test_limits_answer_temporarily_unavailable_with_retry_after(
    client_with: ClientWith,
) -> None:
    async with client_with(**OAUTH_SETTINGS, rate_limit_refresh=1, rate_limit_login=1) as api:
        body = {"grant_type": "refresh_token", "refresh_token": "rt_x", "client_id": PUBLIC_CLIENT}
        assert (await api.post(TOKEN, data=body)).status == 400
        limited = await api.post(TOKEN, data=body, headers={"X-Request-ID": "limited-1"})
        assert limited.status == 429
        assert limited.body == {
            "error": "temporarily_unavailable",
            "error_description": limited.body["error_description"],
            "code": "too_many_attempts",
            "request_id": "limited-1",
        }
        assert int(limited.headers["retry-after"]) >= 1
        # the password grant counts in the login bucket, not the refresh one
        password = {
            "grant_type": "password",
            "username": "x@example.com",
            "password": "wrong password",
            "client_id": PUBLIC_CLIENT,
        }
        assert (await api.post(TOKEN, data=password)).body["error"] == "invalid_grant"
        assert (await api.post(TOKEN, data=password)).status == 429
