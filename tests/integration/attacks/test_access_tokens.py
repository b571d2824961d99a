"""Forged, stale and misused access tokens on GET /api/auth/me, end to end.

Every token here names a real account and its live session and is signed with the app's own key,
unless the attack is the signature itself: the one defect under test is the only reason it can
be refused. `test_control_hand_signed_token_is_accepted` proves that: the same forge, with no
defect, gets in.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from authapi.config import Settings
from authapi.key_material import generate_private_key_pem, load_private_key
from authapi.signing.keys import key_id, public_jwk
from tests.support.accounts import Account, register
from tests.support.http import ApiClient, Reply
from tests.support.problems import assert_problem
from tests.support.tokens import TokenForge

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def forge(signing_key_pem: str, settings: Settings) -> TokenForge:
    return TokenForge(load_private_key(signing_key_pem), settings)


@pytest.fixture
def claims(account: Account, forge: TokenForge) -> dict[str, Any]:
    """Fresh claims for `account`'s real, live session."""
    issued = jwt.decode(account.access_token, options={"verify_signature": False})
    return forge.claims(sub=issued["sub"], sid=issued["sid"])


async def _me(client: ApiClient, token: str) -> Reply:
    return await client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})


def assert_refused(response: Reply) -> None:
    assert_problem(response, 401, "invalid_token")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_control_hand_signed_token_is_accepted(
    client: ApiClient, account: Account, forge: TokenForge, claims: dict[str, Any]
) -> None:
    response = await _me(client, forge.sign(claims))

    assert response.status == 200
    assert response.body["id"] == account.user_id


async def test_alg_none(client: ApiClient, forge: TokenForge, claims: dict[str, Any]) -> None:
    assert_refused(await _me(client, forge.alg_none(claims)))


async def test_hs256_signed_with_the_rs256_public_key(
    client: ApiClient, forge: TokenForge, claims: dict[str, Any]
) -> None:
    assert_refused(await _me(client, forge.hs256_with_public_key(claims)))


async def test_payload_edited_to_another_account(
    client: ApiClient, account: Account, forge: TokenForge
) -> None:
    # the attacker's own valid token, its payload pointed at a victim's account and session
    victim = jwt.decode((await register(client)).access_token, options={"verify_signature": False})
    token = forge.with_payload(account.access_token, sub=victim["sub"], sid=victim["sid"])

    assert_refused(await _me(client, token))


async def test_signed_with_a_foreign_key_under_our_kid(
    client: ApiClient, forge: TokenForge, claims: dict[str, Any]
) -> None:
    foreign = load_private_key(generate_private_key_pem())

    assert_refused(await _me(client, forge.sign(claims, key=foreign, headers={"kid": forge.kid})))


async def test_unknown_kid(client: ApiClient, forge: TokenForge, claims: dict[str, Any]) -> None:
    unknown_kid = key_id(load_private_key(generate_private_key_pem()).public_key())

    assert_refused(await _me(client, forge.sign(claims, headers={"kid": unknown_kid})))


async def test_jku_header(client: ApiClient, forge: TokenForge, claims: dict[str, Any]) -> None:
    token = forge.sign(claims, headers={"jku": "https://attacker.example/jwks.json"})

    assert_refused(await _me(client, token))


async def test_x5u_header(client: ApiClient, forge: TokenForge, claims: dict[str, Any]) -> None:
    token = forge.sign(claims, headers={"x5u": "https://attacker.example/cert.pem"})

    assert_refused(await _me(client, token))


async def test_jwk_header(client: ApiClient, forge: TokenForge, claims: dict[str, Any]) -> None:
    # even our own public key, embedded: a token never gets to name its verification key
    token = forge.sign(claims, headers={"jwk": public_jwk(forge.signing_key.public_key())})

    assert_refused(await _me(client, token))


async def test_expired(client: ApiClient, forge: TokenForge, claims: dict[str, Any]) -> None:
    now = int(time.time())
    expired = {**claims, "iat": now - 7200, "nbf": now - 7200, "exp": now - 3600}

    assert_refused(await _me(client, forge.sign(expired)))


async def test_not_yet_valid(client: ApiClient, forge: TokenForge, claims: dict[str, Any]) -> None:
    assert_refused(await _me(client, forge.sign({**claims, "nbf": int(time.time()) + 3600})))


async def test_missing_exp(client: ApiClient, forge: TokenForge, claims: dict[str, Any]) -> None:
    never_expires = {name: value for name, value in claims.items() if name != "exp"}

    assert_refused(await _me(client, forge.sign(never_expires)))


async def test_wrong_audience(client: ApiClient, forge: TokenForge, claims: dict[str, Any]) -> None:
    assert_refused(await _me(client, forge.sign({**claims, "aud": "another-service"})))


async def test_wrong_issuer(client: ApiClient, forge: TokenForge, claims: dict[str, Any]) -> None:
    assert_refused(await _me(client, forge.sign({**claims, "iss": "https://attacker.example"})))


async def test_live_refresh_token_as_bearer(client: ApiClient, account: Account) -> None:
    assert_refused(await _me(client, account.refresh_token))
    # and presenting it there did not spend it
    refresh = await client.post(
        "/api/auth/refresh-token", json={"refresh_token": account.refresh_token}
    )
    assert refresh.status == 200


async def test_jwt_for_another_use(
    client: ApiClient, forge: TokenForge, claims: dict[str, Any]
) -> None:
    assert_refused(await _me(client, forge.sign({**claims, "token_use": "refresh"})))


async def test_plain_jwt_typ(client: ApiClient, forge: TokenForge, claims: dict[str, Any]) -> None:
    assert_refused(await _me(client, forge.sign(claims, headers={"typ": "JWT"})))
