"""GET /health and GET /.well-known/jwks.json."""

from __future__ import annotations

import httpx
import jwt
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from authapi.app import create_app
from authapi.config import Settings
from tests.support import Account, client_for

pytestmark = pytest.mark.integration


async def test_health_reports_database_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


async def test_health_reports_unreachable_database(settings: Settings) -> None:
    unreachable = settings.model_copy(
        update={"database_url": SecretStr("postgresql+asyncpg://nobody@127.0.0.1:9/none")}
    )
    app: FastAPI = create_app(unreachable)
    async with client_for(app) as client:
        response = await client.get("/health")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unavailable"}


async def test_jwks_verifies_issued_tokens(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.get("/.well-known/jwks.json")

    assert response.status_code == 200
    keys = response.json()["keys"]
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
    assert set(claims) == {"iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "token_use"}
    assert claims["exp"] - claims["iat"] == 1800
