"""Encryption at rest under the data keys: what only the service may read back (the address a
forgot-password request named, kept until the mailer resolves it).

AES-256-GCM under a key derived per purpose from the current data key, the purpose also bound
as associated data: a blob sealed for one use does not open for another. The key id is kept
next to the blob, so a blob sealed before a rotation still opens while its key is in the ring.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from authapi.signing.keys import DataKeys

NONCE_BYTES = 12


class SealedDataUnreadable(Exception):
    """The key that sealed it left the ring, or the blob was altered."""


def _key(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, b"seal\0" + purpose.encode(), hashlib.sha256).digest()


def seal(data_keys: DataKeys, purpose: str, plaintext: str) -> tuple[str, bytes]:
    """(key id, nonce + ciphertext) of `plaintext` under the current data key."""
    key_id, secret = data_keys.keys[0]
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(_key(secret, purpose)).encrypt(nonce, plaintext.encode(), purpose.encode())
    return key_id, nonce + sealed


def open_sealed(data_keys: DataKeys, purpose: str, *, key_id: str, blob: bytes) -> str:
    from cryptography.exceptions import InvalidTag

    secret = dict(data_keys.keys).get(key_id)
    if secret is None:
        raise SealedDataUnreadable(f"data key {key_id!r} is no longer in the ring")
    try:
        plaintext = AESGCM(_key(secret, purpose)).decrypt(
            blob[:NONCE_BYTES], blob[NONCE_BYTES:], purpose.encode()
        )
    except InvalidTag:
        raise SealedDataUnreadable("the sealed data does not open under its key") from None
    return plaintext.decode()
