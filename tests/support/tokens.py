"""Hand-made access tokens for attack tests: each valid in every way but the one under attack.

Shared by the unit tests of `verify_access_token` and the end-to-end attacks on `/api/auth/me`,
which sign with the test session's real key so that a missing check would let the token in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from authapi.config import Settings
from authapi.signing.keys import key_id


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(data: dict[str, Any]) -> str:
    return b64url(json.dumps(data).encode())


class TokenForge:
    """Builds access tokens the way the app issues them, with whatever defect a test asks for."""

    def __init__(self, signing_key: rsa.RSAPrivateKey, settings: Settings):
        self.signing_key = signing_key
        self.settings = settings
        self.kid = key_id(signing_key.public_key())

    def claims(self, **changes: Any) -> dict[str, Any]:
        """A complete, live claim set; a change to None removes that claim."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.settings.jwt_issuer,
            "aud": self.settings.jwt_audience,
            "sub": str(uuid.uuid4()),
            "client_id": self.settings.default_client_id,
            "auth_time": now,
            "sid": str(uuid.uuid4()),
            "jti": uuid.uuid4().hex,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
            "token_use": "access",
        }
        claims.update(changes)
        return {name: value for name, value in claims.items() if value is not None}

    def sign(
        self,
        claims: dict[str, Any],
        *,
        key: Any = None,
        headers: dict[str, Any] | None = None,
        alg: str = "RS256",
    ) -> str:
        return jwt.encode(
            claims,
            key if key is not None else self.signing_key,
            algorithm=alg,
            headers={"kid": self.kid, "typ": "at+jwt", **(headers or {})},
        )

    def alg_none(self, claims: dict[str, Any]) -> str:
        header = b64url_json({"alg": "none", "typ": "at+jwt", "kid": self.kid})
        return f"{header}.{b64url_json(claims)}."

    def public_pem(self) -> bytes:
        return self.signing_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def hs256_with_public_key(self, claims: dict[str, Any]) -> str:
        """Algorithm confusion: HMAC keyed with our public key. PyJWT refuses to, so by hand."""
        header = b64url_json({"alg": "HS256", "typ": "at+jwt", "kid": self.kid})
        signing_input = f"{header}.{b64url_json(claims)}"
        signature = hmac.new(self.public_pem(), signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64url(signature)}"

    def with_payload(self, token: str, **changes: Any) -> str:
        """`token` with its payload edited and its original signature kept."""
        header, payload, signature = token.split(".")
        tampered = json.loads(base64.urlsafe_b64decode(payload + "=="))
        tampered.update(changes)
        return f"{header}.{b64url_json(tampered)}.{signature}"
