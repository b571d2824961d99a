"""Recovery codes: 10 per account, 80 random bits each, stored only as HMAC-SHA-256 under the
data key ring (not argon2: ten slow hashes per attempt would be a denial-of-service lever; the
codes are random, not passwords, so a keyed fast hash is enough)."""

from __future__ import annotations

import base64
import secrets

from authapi.signing.keys import DataKeys

COUNT = 10
CODE_BYTES = 10  # 80 bits (issue 14: at least 64)
_PURPOSE = "mfa.recovery_code"


def new_codes() -> list[str]:
    """Codes as the user reads them: 16 base32 characters in groups of four."""
    codes = []
    for _ in range(COUNT):
        text = base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode().lower()
        codes.append("-".join(text[i : i + 4] for i in range(0, len(text), 4)))
    return codes


def canonical(code: str) -> str:
    """What is hashed: without separators or spaces, lower case (so typing is forgiving)."""
    return "".join(code.split()).replace("-", "").lower()


def hmac_current(data_keys: DataKeys, code: str) -> tuple[str, bytes]:
    """(key id, HMAC) under the current data key: what is stored."""
    return data_keys.current_id, data_keys.hmac(_PURPOSE, canonical(code))


def hmacs(data_keys: DataKeys, code: str) -> tuple[bytes, ...]:
    """The code's HMAC under each key of the ring: a code stored before a rotation still
    matches. The database compares them by equality on an index: no timing says how close a
    guess came, as the value compared is a keyed hash the caller cannot choose."""
    return tuple(digest for _, digest in data_keys.hmacs(_PURPOSE, canonical(code)))
