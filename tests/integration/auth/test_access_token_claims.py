"""The RFC 9068 claims of the access tokens the API hands out, across a session's life."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jwt
import pytest

from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.clock import ManualClock
from tests.support.http import ClientWith, Reply

pytestmark = pytest.mark.integration

SIGNED_IN = datetime(2026, 12, 1, 9, 30, 15, tzinfo=UTC)


def _claims(reply: Reply) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(
        reply.body["access_token"], options={"verify_signature": False}
    )
    return claims


async def test_auth_time_is_the_sign_in_and_survives_every_refresh(
    client_with: ClientWith,
) -> None:
    clock = ManualClock(SIGNED_IN)
    credentials = {"email": unique_email(), "password": STRONG_PASSWORD}
    async with client_with(clock=clock, default_client_id="web-app") as client:
        registered = await client.post("/api/v1/auth/register", json=credentials)
        clock.advance(3600)
        login = await client.post("/api/v1/auth/login", json=credentials)
        token = login.body["refresh_token"]
        refreshed = []
        for _ in range(2):
            clock.advance(1200)
            refreshed.append(
                reply := await client.post(
                    "/api/v1/auth/refresh-token", json={"refresh_token": token}
                )
            )
            token = reply.body["refresh_token"]

    signed_in_again = int(SIGNED_IN.timestamp()) + 3600
    assert _claims(registered)["auth_time"] == int(SIGNED_IN.timestamp())
    assert _claims(login)["auth_time"] == signed_in_again
    for reply in refreshed:
        claims = _claims(reply)
        assert claims["auth_time"] == signed_in_again  # the login, not the refresh
        assert claims["iat"] > signed_in_again
    for reply in (registered, login, *refreshed):
        claims = _claims(reply)
        assert claims["client_id"] == "web-app"
        assert jwt.get_unverified_header(reply.body["access_token"])["typ"] == "at+jwt"
        assert set(claims) == {
            "iss", "aud", "sub", "client_id", "auth_time", "sid", "jti", "iat", "nbf", "exp",
            "token_use", "email_verified",
            "amr", "acr", "aal",
        }  # fmt: skip
