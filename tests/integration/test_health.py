"""GET /health and GET /.well-known/jwks.json."""

from __future__ import annotations

import jwt
import pytest
from pydantic import SecretStr

from tests.support.accounts import Account
from tests.support.http import ApiClient, ClientWith

pytestmark = pytest.mark.integration


async def test_health_reports_database_ok(client: ApiClient) -> None:
    response = await client.get("/health")

    assert response.status == 200
    assert response.body == {"status": "ok", "database": "ok"}


async def test_health_reports_unreachable_database(client_with: ClientWith) -> None:
    unreachable = SecretStr("postgresql+psycopg://nobody@127.0.0.1:9/none")
    async with client_with(database_url=unreachable) as client:
        response = await client.get("/health")

    assert response.status == 503
    assert response.body == {"status": "unavailable", "database": "unavailable"}


async def test_jwks_verifies_issued_tokens(client: ApiClient, account: Account) -> None:
    response = await client.get("/.well-known/jwks.json")

    assert response.status == 200
    keys = response.body["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA"
    assert keys[0]["alg"] == "RS256"
    assert "d" not in keys[0]  # public parts only
    header = jwt.get_unverified_header(account.access_token)
    assert header["kid"] == keys[0]["kid"]
    public_key = jwt.PyJWK(keys[0]).key
    claims = jwt.decode(account.access_token, public_key, algorithms=["RS256"], audience="authapi")
    assert claims["sub"] == account.user_id
    assert claims["token_use"] == "access"
    assert set(claims) == {
        "iss", "aud", "sub", "client_id", "auth_time", "sid", "jti", "iat", "nbf", "exp",
        "token_use", "email_verified",
        "amr", "acr", "aal",
    }  # fmt: skip
    assert claims["exp"] - claims["iat"] == 1800
