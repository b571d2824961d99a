"""The local cloud's JWT authorizer lets through exactly the tokens API Gateway's would."""

from __future__ import annotations

from typing import Any

import pytest

from authapi.config import Settings
from authapi.key_material import generate_data_key_entry, generate_private_key_pem, load_private_key
from authapi.signing.keys import DataKeys, KeyRing
from devtools.api_gateway import Unauthorized
from devtools.jwt_authorizer import JwtAuthorizer
from tests.support.tokens import TokenForge

pytestmark = pytest.mark.unit

SETTINGS = Settings(_env_file=None)
RING = KeyRing(
    signing_key=load_private_key(generate_private_key_pem()),
    data_keys=DataKeys.parse(generate_data_key_entry()),
)
FORGE = TokenForge(RING.signing_key, SETTINGS)
DOCUMENTS: dict[str, Any] = {
    "/.well-known/openid-configuration": {
        "issuer": "authapi",
        "jwks_uri": "http://127.0.0.1:8000/.well-known/jwks.json",
    },
    "/.well-known/jwks.json": RING.jwks(),
}


def _authorizer(documents: dict[str, Any] = DOCUMENTS) -> tuple[JwtAuthorizer, list[str]]:
    fetched: list[str] = []

    def fetch(path: str) -> Any:
        fetched.append(path)
        return documents[path]

    return JwtAuthorizer(issuer="authapi", audience=["authapi"], fetch=fetch), fetched


def test_a_valid_token_gives_its_claims_as_api_gateway_strings() -> None:
    authorizer, fetched = _authorizer()
    claims = FORGE.claims()

    for header in (f"Bearer {FORGE.sign(claims)}", FORGE.sign(claims)):
        passed = authorizer.claims({"authorization": header})
        assert passed["sub"] == claims["sub"]
        assert passed["exp"] == str(claims["exp"])
    # discovery first, then the key set it names; cached after that
    assert fetched == ["/.well-known/openid-configuration", "/.well-known/jwks.json"]


@pytest.mark.parametrize(
    "token",
    [
        "",
        "Bearer ",
        "Bearer not-a-jwt",
        f"Bearer {FORGE.sign(FORGE.claims(iss='someone-else'))}",
        f"Bearer {FORGE.sign(FORGE.claims(aud='another-api'))}",
        f"Bearer {FORGE.sign(FORGE.claims(exp=1))}",
        f"Bearer {FORGE.sign(FORGE.claims(exp=None))}",
        f"Bearer {FORGE.alg_none(FORGE.claims())}",
        f"Bearer {FORGE.hs256_with_public_key(FORGE.claims())}",
        f"Bearer {FORGE.sign(FORGE.claims(), key=load_private_key(generate_private_key_pem()))}",
    ],
    ids=[
        "missing",
        "empty",
        "garbage",
        "issuer",
        "audience",
        "expired",
        "no-expiry",
        "alg-none",
        "hs256",
        "foreign-key",
    ],
)
def test_anything_else_is_unauthorized(token: str) -> None:
    authorizer, _ = _authorizer()
    with pytest.raises(Unauthorized):
        authorizer.claims({"authorization": token} if token else {})


def test_a_discovery_document_of_another_issuer_is_not_trusted() -> None:
    documents = {
        **DOCUMENTS,
        "/.well-known/openid-configuration": {
            **DOCUMENTS["/.well-known/openid-configuration"],
            "issuer": "https://elsewhere.example",
        },
    }
    authorizer, _ = _authorizer(documents)
    with pytest.raises(Unauthorized):
        authorizer.claims({"authorization": f"Bearer {FORGE.sign(FORGE.claims())}"})
