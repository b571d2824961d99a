"""The online check of the resource-server kit: RFC 7662 introspection at the service's
`/api/v1/oauth/introspect`, which answers `active: false` the moment the session is over
(logout, revocation, reuse detection, a disabled account), where offline verification would
let the token pass until it expires.

Only confidential clients may introspect; they authenticate with HTTP Basic
(`client_secret_basic`, the one method the service accepts for a secret). Register one with
`make oauth-client` and give its id and secret here.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import httpx

from authapi_client._kit_claims import Claims

INTROSPECTION_PATH = "/api/v1/oauth/introspect"
DEFAULT_TIMEOUT_SECONDS = 5.0


class IntrospectionUnavailable(Exception):
    """The service could not say whether the token is live (down, throttling, or refusing
    this client's credentials): fail closed."""


def _basic(client_id: str, client_secret: str) -> str:
    # RFC 6749 section 2.3.1: each part form-urlencoded before they are joined
    pair = f"{quote(client_id, safe='')}:{quote(client_secret, safe='')}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


class Introspector:
    """Asks the service whether a verified access token's session is still live."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str,
        client_secret: str,
        http: httpx.AsyncClient | None = None,
    ):
        self.url = url
        self._authorization = _basic(client_id, client_secret)
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=DEFAULT_TIMEOUT_SECONDS)

    def __repr__(self) -> str:
        return f"Introspector({self.url!r})"  # never the credentials

    async def is_active(self, token: str, claims: Claims) -> bool:
        """Whether the service still honours `token`, whose `claims` were verified offline."""
        try:
            response = await self._http.post(
                self.url,
                data={"token": token},
                headers={"authorization": self._authorization, "accept": "application/json"},
            )
        except httpx.HTTPError as error:
            raise IntrospectionUnavailable(
                "the introspection endpoint cannot be reached"
            ) from error
        if response.status_code != 200:
            raise IntrospectionUnavailable(f"introspection answered {response.status_code}")
        try:
            answer: Any = response.json()
        except ValueError:
            raise IntrospectionUnavailable("introspection answered no JSON") from None
        if not isinstance(answer, dict):
            raise IntrospectionUnavailable("introspection answered no JSON object")
        # the very token verified offline: an access token of the same subject and id
        return (
            answer.get("active") is True
            and answer.get("token_type") == "Bearer"
            and answer.get("sub") == claims.sub
            and answer.get("jti") == claims.jti
        )

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()
