"""The token of a login's MFA challenge: 256 random bits, only its SHA-256 stored.

Its last character carries the password step's device check to the challenge's answer, so the
`login.succeeded` the answer records says `new_device` as a password-only login's does: `k` when
that step presented a valid device token of the account, `n` when not. Only the whole token's
hash is stored and a challenge is found by it alone, so a client that changes the character
holds no challenge any more; and the holder learns nothing it did not send itself.
"""

from __future__ import annotations

import hashlib
import secrets

CHALLENGE_PREFIX = "mc_"  # lets log redaction and secret scanners recognise a leaked one
_RANDOM_CHARACTERS = 43  # secrets.token_urlsafe(32)
_DEVICE_MARKERS = {"k": False, "n": True}  # the marker, and whether the device was new


def new_challenge_token(*, device_trusted: bool) -> str:
    marker = "k" if device_trusted else "n"
    return CHALLENGE_PREFIX + secrets.token_urlsafe(32) + marker


def hash_challenge_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def challenge_new_device(token: str) -> bool | None:
    """Whether the password step behind a token found by its hash came from a new device; None
    for a token without the marker (issued before it existed, in the minutes a deploy takes)."""
    if len(token) != len(CHALLENGE_PREFIX) + _RANDOM_CHARACTERS + 1:
        return None
    return _DEVICE_MARKERS.get(token[-1])
