"""RFC 8414 metadata: every required member, each one true, and every URL it names answers."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI

from tests.support.accounts import register
from tests.support.http import ApiClient, ClientWith
from tests.support.oauth import OAUTH_SETTINGS, oauth_client

pytestmark = pytest.mark.integration

METADATA = "/.well-known/oauth-authorization-server"


async def test_the_document_lists_every_endpoint_and_each_answers(
    oauth_app: FastAPI, api: ApiClient
) -> None:
    reply = await api.get(METADATA)
    assert reply.status == 200
    document = reply.body
    assert document == {
        "issuer": "authapi",
        "jwks_uri": "http://testserver/.well-known/jwks.json",
        "token_endpoint": "http://testserver/api/v1/oauth/token",
        "grant_types_supported": ["refresh_token", "password"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
        "revocation_endpoint": "http://testserver/api/v1/oauth/revoke",
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
        "introspection_endpoint": "http://testserver/api/v1/oauth/introspect",
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "response_types_supported": [],
    }
    assert reply.headers["cache-control"] == "public, max-age=3600"
    jwks = await api.get(urlsplit(document["jwks_uri"]).path)
    assert jwks.status == 200
    assert jwks.body["keys"]
    # each OAuth endpoint is there and speaks RFC 6749 errors (a request without a body)
    for member in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        answer = await api.post(urlsplit(document[member]).path, data={})
        assert answer.status in (400, 401), (member, answer)
        assert answer.body["error"] in ("invalid_request", "invalid_client"), (member, answer)
    # and a client library configured from the document alone signs in through it
    account = await register(api)
    async with oauth_client(oauth_app, token_endpoint=document["token_endpoint"]) as oauth:
        token = await oauth.fetch_token(
            grant_type="password", username=account.email, password=account.password
        )
    assert token["access_token"]


async def test_the_password_grant_is_listed_only_when_enabled(client: ApiClient) -> None:
    document = (await client.get(METADATA)).body
    assert document["grant_types_supported"] == ["refresh_token"]


async def test_an_issuer_with_a_path_has_the_path_inserted_form(client_with: ClientWith) -> None:
    issuer = "https://auth.example.com/tenant-a"
    async with client_with(**OAUTH_SETTINGS, jwt_issuer=issuer) as api:
        inserted = await api.get(METADATA + "/tenant-a")
        assert inserted.status == 200
        assert inserted.body["issuer"] == issuer
        assert inserted.body["token_endpoint"] == issuer + "/api/v1/oauth/token"
        assert (await api.get(METADATA + "/tenant-b")).status == 404
        # the issuer's own /.well-known answers too (where OpenID-style lookups go)
        assert (await api.get(METADATA)).body["issuer"] == issuer
    async with client_with(**OAUTH_SETTINGS, jwt_issuer="https://auth.example.com") as api:
        assert (await api.get(METADATA + "/anything")).status == 404
