"""The token of a login's MFA challenge: 256 random bits, only its SHA-256 stored."""

from __future__ import annotations

import hashlib
import secrets

CHALLENGE_PREFIX = "mc_"  # lets log redaction and secret scanners recognise a leaked one


def new_challenge_token() -> str:
    return CHALLENGE_PREFIX + secrets.token_urlsafe(32)


def hash_challenge_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
