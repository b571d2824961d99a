"""API Gateway's JWT authorizer, stood in for the local cloud: what a route with `Auth:
Authorizer:` gets before its function runs.

As in AWS: the token from the `Authorization` header (with or without `Bearer `), the keys from
the issuer's discovery document (`/.well-known/openid-configuration`, then its `jwks_uri`),
then signature (RS256), `iss`, `aud`, `exp`, `nbf` and `iat`; a token that fails any of them is
answered 401 `{"message":"Unauthorized"}` without invoking the function. The claims the
function sees are API Gateway's: every value a string, arrays as "[a b]".

Unlike AWS: the issuer here is a name, not a URL (the local issuer is the app's default, so
tokens survive switching between `make dev` and `make run`), so the documents are read from the
local API itself, through its function, where `<issuer>/.well-known/...` would be fetched in AWS.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import jwt

from devtools.api_gateway import Unauthorized

# GET <path> -> the JSON the local API answers (through its own execution environments)
Fetch = Callable[[str], Any]

DISCOVERY_PATH = "/.well-known/openid-configuration"


class JwtAuthorizer:
    def __init__(self, *, issuer: str, audience: list[str], fetch: Fetch) -> None:
        self.issuer = issuer
        self.audience = audience
        self.fetch = fetch
        self._keys: dict[str, Any] = {}
        self._lock = threading.Lock()

    def claims(self, headers: Mapping[str, str]) -> dict[str, str]:
        """The verified claims of the request's token, as the function's event carries them."""
        token = headers.get("authorization", "").strip()
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        if not token:
            raise Unauthorized("no token")
        try:
            kid = str(jwt.get_unverified_header(token).get("kid"))
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key(kid),
                algorithms=["RS256"],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iss", "aud"]},
            )
        except (jwt.PyJWTError, KeyError, ValueError) as error:
            raise Unauthorized(str(error)) from None
        return {name: _as_api_gateway_string(value) for name, value in claims.items()}

    def _key(self, kid: str) -> Any:
        with self._lock:
            if kid not in self._keys:  # a key not seen yet: the keys may have rotated
                self._keys = self._load_keys()
            return self._keys[kid]

    def _load_keys(self) -> dict[str, Any]:
        document = self.fetch(DISCOVERY_PATH)
        if document.get("issuer") != self.issuer:
            raise Unauthorized(f"the discovery document names {document.get('issuer')!r}")
        key_set = jwt.PyJWKSet.from_dict(self.fetch(urlsplit(document["jwks_uri"]).path))
        return {str(key.key_id): key.key for key in key_set.keys}


def _as_api_gateway_string(value: Any) -> str:
    if isinstance(value, list):
        return "[" + " ".join(str(item) for item in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
