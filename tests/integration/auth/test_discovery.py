"""GET /.well-known/openid-configuration: issuer and jwks_uri, for JWT verifiers only."""

from __future__ import annotations

import jwt
import pytest

from tests.support.accounts import Account
from tests.support.http import ApiClient, ClientWith

pytestmark = pytest.mark.integration


async def test_a_url_issuer_hosts_its_documents(client_with: ClientWith) -> None:
    async with client_with(jwt_issuer="https://auth.example.com") as client:
        reply = await client.get("/.well-known/openid-configuration")

    assert reply.status == 200
    # exactly what a JWT verifier reads: no authorization endpoint, no ID token claims, since
    # authapi is not an OpenID Provider
    assert reply.body == {
        "issuer": "https://auth.example.com",
        "jwks_uri": "https://auth.example.com/.well-known/jwks.json",
    }
    assert reply.headers["cache-control"] == "public, max-age=3600"
    assert reply.headers["content-type"] == "application/json"


async def test_an_issuer_that_is_only_a_name_points_where_it_was_asked(
    client: ApiClient,
) -> None:
    reply = await client.get("/.well-known/openid-configuration", headers={"host": "api.test"})

    assert reply.body["issuer"] == "authapi"
    assert reply.body["jwks_uri"].endswith("://api.test/.well-known/jwks.json")


async def test_a_verifier_following_the_document_verifies_our_tokens(
    client: ApiClient, account: Account
) -> None:
    # what API Gateway's JWT authorizer does: discovery, then the key set, then the token
    document = (await client.get("/.well-known/openid-configuration")).body
    jwks_path = "/" + document["jwks_uri"].split("://", 1)[1].split("/", 1)[1]
    keys = jwt.PyJWKSet.from_dict((await client.get(jwks_path)).body)
    kid = jwt.get_unverified_header(account.access_token)["kid"]

    claims = jwt.decode(
        account.access_token,
        keys[kid].key,
        algorithms=["RS256"],
        issuer=document["issuer"],
        audience="authapi",
    )

    assert claims["sub"] == account.user_id
