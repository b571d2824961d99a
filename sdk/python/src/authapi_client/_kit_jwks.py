"""The service's JSON Web Key Set, as the resource-server kit holds it: parsed, cached for the
Cache-Control `max-age` the service sends, fetched again at most once per refetch interval.

Private to the kit. `KeyCache` only decides (no I/O), so the sync and the async verifier share
every rule and differ only in how they fetch.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from authapi_client._kit_jws import ALGORITHM, Malformed, b64url_decode

# the service sends `public, max-age=300`; a response without the header is held as long
DEFAULT_MAX_AGE_SECONDS = 300.0
MAX_MAX_AGE_SECONDS = 24 * 3600.0  # a misconfigured year-long max-age must not pin old keys
# NIST SP 800-57: RSA below 2048 bits protects nothing any more (the service signs with 3072)
MIN_RSA_BITS = 2048
_MAX_AGE = re.compile(r"max-age=(\d{1,10})")


class JwksUnavailable(Exception):
    """The key set could not be read, and no key held from before fits the token."""


def max_age(cache_control: str | None, *, default: float = DEFAULT_MAX_AGE_SECONDS) -> float:
    """How long a response with this Cache-Control stays fresh, in seconds."""
    if cache_control is None:
        return default
    directives = [part.strip().lower() for part in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for directive in directives:
        if matched := _MAX_AGE.fullmatch(directive):
            return min(float(matched[1]), MAX_MAX_AGE_SECONDS)
    return default


def _rsa_key(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey | None:
    """The RS256 verification key a JWK describes, or None for any other kind of key."""
    if jwk.get("kty") != "RSA" or jwk.get("alg", ALGORITHM) != ALGORITHM:
        return None
    if jwk.get("use", "sig") != "sig":
        return None
    n, e = jwk.get("n"), jwk.get("e")
    if not isinstance(n, str) or not isinstance(e, str):
        return None
    try:
        numbers = rsa.RSAPublicNumbers(
            int.from_bytes(b64url_decode(e, "e"), "big"),
            int.from_bytes(b64url_decode(n, "n"), "big"),
        )
        key = numbers.public_key()
    except (Malformed, ValueError):
        return None
    return key if key.key_size >= MIN_RSA_BITS else None


def parse_key_set(document: Any) -> dict[str, rsa.RSAPublicKey]:
    """Every usable key of a JWK Set by `kid`; keys of other kinds are skipped, as RFC 7517
    section 5 asks, so a set that gains an EC key one day keeps working."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksUnavailable("not a JWK Set")
    keys: dict[str, rsa.RSAPublicKey] = {}
    for jwk in document["keys"]:
        if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str):
            key = _rsa_key(jwk)
            if key is not None:
                keys.setdefault(jwk["kid"], key)
    return keys


class KeyCache:
    """The keys last fetched and when; whether a token's `kid` calls for a fetch.

    One rule bounds the load: at most one fetch per `refetch_interval`, whatever the reason (the
    copy went stale, or a token named a `kid` not in it). A flood of tokens with made-up kids so
    costs the service one JWKS request per interval, however many verifiers' worth of them come.
    """

    def __init__(self, *, refetch_interval: float, default_max_age: float):
        if refetch_interval <= 0:
            raise ValueError("refetch_interval must be positive")
        self.refetch_interval = refetch_interval
        self.default_max_age = default_max_age
        self.keys: dict[str, rsa.RSAPublicKey] = {}
        self.fresh_until = -math.inf
        self.last_fetch = -math.inf

    def fresh_key(self, kid: str, now: float) -> rsa.RSAPublicKey | None:
        """The key, if the copy is fresh and has it: the path of nearly every token."""
        return self.keys.get(kid) if now < self.fresh_until else None

    def should_fetch(self, kid: str, now: float) -> bool:
        if now - self.last_fetch < self.refetch_interval:
            return False
        return now >= self.fresh_until or kid not in self.keys

    def fetching(self, now: float) -> None:
        """A fetch starts now (counted whether or not it succeeds: a failing endpoint is not
        hammered either)."""
        self.last_fetch = now

    def store(self, document: Any, cache_control: str | None, now: float) -> None:
        self.keys = parse_key_set(document)
        self.fresh_until = now + max_age(cache_control, default=self.default_max_age)

    def key(self, kid: str) -> rsa.RSAPublicKey | None:
        """The key from the copy held, fresh or not: while the service cannot be reached, keys
        it published stay usable rather than every request failing."""
        return self.keys.get(kid)
