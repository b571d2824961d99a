"""Verify authapi access tokens in your own service, offline, against the service's JWKS.

    verifier = TokenVerifier(
        issuer="https://auth.example.com",
        audience="authapi",
        jwks_url="https://auth.example.com/.well-known/jwks.json",
    )
    claims = verifier.verify(token)  # Claims, or TokenExpired / TokenInvalid

`AsyncTokenVerifier` is the same on `httpx.AsyncClient`. What is checked, in this order: the
header (RS256 and nothing else, `typ` `at+jwt`, a `kid`, no header naming its own key) before
any key is looked up; the signature against the key of that `kid`; then the claims the service
requires (iss, aud, sub, sid, jti, iat, nbf, exp, token_use), `iss` and `aud` exactly,
`token_use` `access`, and the times against `clock`, give or take `leeway` seconds.

Offline verification cannot see a logout: a token stays valid here until it expires. Routes
that must see one at once add the online check (`authapi_client.fastapi.require_user(...,
online=True)`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from authapi_client import _kit_jws as jws
from authapi_client._kit_claims import Claims
from authapi_client._kit_jwks import DEFAULT_MAX_AGE_SECONDS, JwksUnavailable, KeyCache

__all__ = [
    "AsyncTokenVerifier",
    "Claims",
    "JwksUnavailable",
    "TokenExpired",
    "TokenInvalid",
    "TokenVerifier",
]

logger = logging.getLogger(__name__)

# what the service itself requires of an access token (functions/authapi/auth/tokens.py)
REQUIRED_CLAIMS = ("iss", "aud", "sub", "sid", "jti", "iat", "nbf", "exp", "token_use")
DEFAULT_LEEWAY_SECONDS = 5.0  # the service's own CLOCK_SKEW_SECONDS
MAX_LEEWAY_SECONDS = 60.0  # more would keep an expired token alive longer than clock skew needs
DEFAULT_REFETCH_INTERVAL_SECONDS = 30.0
DEFAULT_TIMEOUT_SECONDS = 5.0

Clock = Callable[[], float]  # seconds since the epoch


class TokenInvalid(Exception):
    """The token is not a valid authapi access token; `reason` says which check refused it
    (fixed text, never any part of the token)."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class TokenExpired(TokenInvalid):
    """A genuine token whose `exp` has passed: the client should refresh and retry."""

    def __init__(self) -> None:
        super().__init__("expired")


class _Verifier:
    """The rules both verifiers share; they differ only in how they fetch the key set."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        leeway: float,
        clock: Clock,
        refetch_interval: float,
        default_max_age: float,
    ):
        if not 0 <= leeway <= MAX_LEEWAY_SECONDS:
            raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY_SECONDS:g} seconds")
        if not issuer or not audience:
            raise ValueError("issuer and audience are required")
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.leeway = leeway
        self.clock = clock
        self._cache = KeyCache(refetch_interval=refetch_interval, default_max_age=default_max_age)

    def _parse(self, token: str) -> jws.CompactJws:
        try:
            return jws.parse(token)
        except jws.Malformed as error:
            raise TokenInvalid(error.reason) from None

    def _store(self, response: httpx.Response, now: float) -> None:
        if response.status_code != 200:
            raise JwksUnavailable(f"the JWKS answered {response.status_code}")
        try:
            document = response.json()
        except ValueError:
            raise JwksUnavailable("the JWKS is not JSON") from None
        self._cache.store(document, response.headers.get("cache-control"), now)

    def _unavailable(self, error: Exception, kid: str) -> None:
        logger.warning("authapi JWKS fetch failed: %s", error)
        if self._cache.key(kid) is None:
            raise JwksUnavailable("the key set could not be read") from error

    def _known_key(self, kid: str) -> rsa.RSAPublicKey:
        key = self._cache.key(kid)
        if key is None:
            raise TokenInvalid("unknown key")
        return key

    def _claims(self, parsed: jws.CompactJws, key: rsa.RSAPublicKey) -> Claims:
        try:
            payload = jws.verified_payload(parsed, key)
        except jws.Malformed as error:
            raise TokenInvalid(error.reason) from None
        for name in REQUIRED_CLAIMS:
            if payload.get(name) is None:
                raise TokenInvalid(f"{name} missing")
        try:
            claims = Claims.from_payload(payload)
        except jws.Malformed as error:
            raise TokenInvalid(error.reason) from None
        if claims.iss != self.issuer:
            raise TokenInvalid("issuer")
        if self.audience not in claims.aud:
            raise TokenInvalid("audience")
        if claims.token_use != "access":
            raise TokenInvalid("not an access token (token_use)")
        now = self.clock()
        if max(claims.nbf, claims.iat) > now + self.leeway:
            raise TokenInvalid("not yet valid")
        if claims.exp <= now - self.leeway:
            raise TokenExpired()
        return claims


class TokenVerifier(_Verifier):
    """Verifies access tokens; thread-safe, one key-set fetch at a time."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        http: httpx.Client | None = None,
        leeway: float = DEFAULT_LEEWAY_SECONDS,
        clock: Clock = time.time,
        refetch_interval: float = DEFAULT_REFETCH_INTERVAL_SECONDS,
        default_max_age: float = DEFAULT_MAX_AGE_SECONDS,
    ):
        super().__init__(
            issuer=issuer,
            audience=audience,
            jwks_url=jwks_url,
            leeway=leeway,
            clock=clock,
            refetch_interval=refetch_interval,
            default_max_age=default_max_age,
        )
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=DEFAULT_TIMEOUT_SECONDS)
        self._lock = threading.Lock()

    def verify(self, token: str) -> Claims:
        """The token's claims; TokenExpired, TokenInvalid, or JwksUnavailable."""
        parsed = self._parse(token)
        key = self._cache.fresh_key(parsed.kid, self.clock())
        if key is None:
            key = self._key(parsed.kid)
        return self._claims(parsed, key)

    def _key(self, kid: str) -> rsa.RSAPublicKey:
        with self._lock:  # one fetch at a time; the others then find its keys
            now = self.clock()
            if self._cache.should_fetch(kid, now):
                self._cache.fetching(now)
                try:
                    self._store(self._http.get(self.jwks_url), now)
                except (httpx.HTTPError, JwksUnavailable) as error:
                    self._unavailable(error, kid)
            return self._known_key(kid)

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> TokenVerifier:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class AsyncTokenVerifier(_Verifier):
    """`TokenVerifier` for asyncio: one key-set fetch at a time across tasks."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        http: httpx.AsyncClient | None = None,
        leeway: float = DEFAULT_LEEWAY_SECONDS,
        clock: Clock = time.time,
        refetch_interval: float = DEFAULT_REFETCH_INTERVAL_SECONDS,
        default_max_age: float = DEFAULT_MAX_AGE_SECONDS,
    ):
        super().__init__(
            issuer=issuer,
            audience=audience,
            jwks_url=jwks_url,
            leeway=leeway,
            clock=clock,
            refetch_interval=refetch_interval,
            default_max_age=default_max_age,
        )
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=DEFAULT_TIMEOUT_SECONDS)
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> Claims:
        """The token's claims; TokenExpired, TokenInvalid, or JwksUnavailable."""
        parsed = self._parse(token)
        key = self._cache.fresh_key(parsed.kid, self.clock())
        if key is None:
            key = await self._key(parsed.kid)
        return self._claims(parsed, key)

    async def _key(self, kid: str) -> rsa.RSAPublicKey:
        async with self._lock:
            now = self.clock()
            if self._cache.should_fetch(kid, now):
                self._cache.fetching(now)
                try:
                    self._store(await self._http.get(self.jwks_url), now)
                except (httpx.HTTPError, JwksUnavailable) as error:
                    self._unavailable(error, kid)
            return self._known_key(kid)

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncTokenVerifier:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()
