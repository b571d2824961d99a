"""RFC 7009 revocation (any client, 200 whatever the token) and RFC 7662 introspection
(confidential clients only; `active` follows the session, not just the token's signature)."""

from __future__ import annotations

import pytest
from authlib.integrations.base_client.errors import OAuthError
from fastapi import FastAPI

from tests.support.accounts import register
from tests.support.http import ApiClient
from tests.support.oauth import (
    CONFIDENTIAL_CLIENT,
    CONFIDENTIAL_SECRET,
    INTROSPECT,
    INTROSPECT_URL,
    OTHER_PUBLIC_CLIENT,
    PUBLIC_CLIENT,
    REVOKE,
    REVOKE_URL,
    TOKEN_URL,
    oauth_client,
)

pytestmark = pytest.mark.integration


async def _signed_in(oauth_app: FastAPI, api: ApiClient) -> dict[str, str]:
    account = await register(api)
    async with oauth_client(oauth_app) as oauth:
        token = await oauth.fetch_token(
            TOKEN_URL, grant_type="password", username=account.email, password=account.password
        )
    return dict(token)


async def _introspect(oauth_app: FastAPI, token: str) -> dict[str, object]:
    async with oauth_client(
        oauth_app, client_id=CONFIDENTIAL_CLIENT, client_secret=CONFIDENTIAL_SECRET
    ) as resource_server:
        reply = await resource_server.introspect_token(INTROSPECT_URL, token=token)
    assert reply.status_code == 200
    assert reply.headers["cache-control"] == "no-store"
    return dict(reply.json())


async def test_revoking_a_refresh_token_ends_its_session_at_once(
    oauth_app: FastAPI, api: ApiClient
) -> None:
    token = await _signed_in(oauth_app, api)
    async with oauth_client(oauth_app) as oauth:
        revoked = await oauth.revoke_token(
            REVOKE_URL, token=token["refresh_token"], token_type_hint="refresh_token"
        )
        assert revoked.status_code == 200
        with pytest.raises(OAuthError) as refused:
            await oauth.refresh_token(TOKEN_URL, refresh_token=token["refresh_token"])
        assert refused.value.error == "invalid_grant"
        # again, and a token that never was: 200 all the same
        assert (
            await oauth.revoke_token(REVOKE_URL, token=token["refresh_token"])
        ).status_code == 200
        assert (await oauth.revoke_token(REVOKE_URL, token="not-a-token")).status_code == 200
    assert (await api.get("/api/v1/auth/me", token=token["access_token"])).status == 401


async def test_revoking_an_access_token_ends_its_session_and_introspection_sees_it(
    oauth_app: FastAPI, api: ApiClient
) -> None:
    token = await _signed_in(oauth_app, api)
    live = await _introspect(oauth_app, token["access_token"])
    assert live["active"] is True
    assert live["client_id"] == PUBLIC_CLIENT
    assert live["token_type"] == "Bearer"
    assert {"sub", "sid", "exp", "iat", "iss", "aud", "jti", "auth_time"} <= set(live)
    refresh = await _introspect(oauth_app, token["refresh_token"])
    assert refresh["active"] is True
    assert refresh["sub"] == live["sub"]

    reply = await api.post(
        REVOKE, data={"token": token["access_token"], "client_id": PUBLIC_CLIENT}
    )
    assert reply.status == 200
    # the token is still signed and in date; its session is over
    assert await _introspect(oauth_app, token["access_token"]) == {"active": False}
    assert await _introspect(oauth_app, token["refresh_token"]) == {"active": False}
    assert await _introspect(oauth_app, "garbage") == {"active": False}


async def test_introspection_follows_a_logout(oauth_app: FastAPI, api: ApiClient) -> None:
    token = await _signed_in(oauth_app, api)
    assert (await _introspect(oauth_app, token["access_token"]))["active"] is True
    assert (await api.post("/api/v1/auth/logout", token=token["access_token"])).status == 204
    assert await _introspect(oauth_app, token["access_token"]) == {"active": False}


@pytest.mark.head_schema  # sessions record their client from migration 0008 on
async def test_another_clients_token_is_not_revoked(oauth_app: FastAPI, api: ApiClient) -> None:
    token = await _signed_in(oauth_app, api)
    for value in (token["refresh_token"], token["access_token"]):
        reply = await api.post(REVOKE, data={"token": value, "client_id": OTHER_PUBLIC_CLIENT})
        assert reply.status == 200
    assert (await _introspect(oauth_app, token["access_token"]))["active"] is True
    # whose a refresh token is, the session says (recorded from migration 0008 on)
    assert (await _introspect(oauth_app, token["refresh_token"]))["client_id"] == PUBLIC_CLIENT


async def test_only_confidential_clients_may_introspect(oauth_app: FastAPI, api: ApiClient) -> None:
    token = await _signed_in(oauth_app, api)
    public = await api.post(
        INTROSPECT, data={"token": token["access_token"], "client_id": PUBLIC_CLIENT}
    )
    assert (public.status, public.body["error"]) == (400, "invalid_client")
    anonymous = await api.post(INTROSPECT, data={"token": token["access_token"]})
    assert (anonymous.status, anonymous.body["error"]) == (400, "invalid_client")
    missing = await api.post(REVOKE, data={"client_id": PUBLIC_CLIENT})
    assert (missing.status, missing.body["error"]) == (400, "invalid_request")
