"""RSA key material: parsing and generating PEM. A leaf: settings and the key ring both use it.

Nothing here knows where a key comes from (settings, a file, SSM); it only says whether a PEM is
a key that can sign our tokens, without ever echoing the key in an error.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

MIN_RSA_KEY_BITS = 2048
_PUBLIC_BEGIN = "-----BEGIN PUBLIC KEY-----"
_PUBLIC_END = "-----END PUBLIC KEY-----"


# cached: production settings check the key at startup and the key provider then uses it, so
# one PEM is parsed once per process
@lru_cache(maxsize=4)
def load_private_key(pem: str, *, check_arithmetic: bool = True) -> RSAPrivateKey:
    """The RSA key in `pem`, or ValueError saying why it cannot sign our tokens (never the key).

    `check_arithmetic=False` skips OpenSSL's consistency check of the private numbers (primality
    of p and q, the CRT values): 150 ms of a cold start for a 3072-bit key, against 0.1 ms.
    Only for a key from a trusted store that was checked when it was written (the SSM key:
    `infra/bootstrap-signing-key.sh` runs `openssl pkey -check` before storing it). Signing
    with a key that is inconsistent all the same cannot leak it: OpenSSL verifies every CRT
    signature with the public exponent and falls back to the plain exponentiation on a
    mismatch (rsa_ossl_mod_exp), which defeats the fault attack such a key would enable.
    """
    # imported here: settings import this module, and most settings never hold a key
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        key = load_pem_private_key(
            pem.encode(), password=None, unsafe_skip_rsa_key_validation=not check_arithmetic
        )
    except (ValueError, TypeError):
        raise ValueError("not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA key")
    if key.key_size < MIN_RSA_KEY_BITS:
        raise ValueError(
            f"RSA key has {key.key_size} bits, at least {MIN_RSA_KEY_BITS} are required"
        )
    return key


def signing_key_problem(pem: str) -> str | None:
    """Why a PEM cannot sign our tokens, or None when it can. Never echoes the key."""
    try:
        load_private_key(pem)
    except ValueError as error:
        return str(error)
    return None


def load_public_keys(pem_bundle: str) -> tuple[RSAPublicKey, ...]:
    """Every RSA public key in a PEM bundle (retired keys still verifying older tokens)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    keys = []
    for block in pem_bundle.split(_PUBLIC_END):
        if _PUBLIC_BEGIN in block:
            key = load_pem_public_key((block[block.index(_PUBLIC_BEGIN) :] + _PUBLIC_END).encode())
            if not isinstance(key, rsa.RSAPublicKey):
                raise ValueError("retired verification keys must be RSA public keys")
            keys.append(key)
    return tuple(keys)


def public_key_pem(public_key: RSAPublicKey) -> str:
    """The SubjectPublicKeyInfo PEM of `public_key`, the form `load_public_keys` reads."""
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def generate_private_key_pem(bits: int = MIN_RSA_KEY_BITS) -> str:
    """A new unencrypted PKCS#8 PEM (development keys and tests)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


# Data keys: the secrets behind every HMAC (email hashes in limits and logs) and, later, every
# encryption at rest. Written as "id:base64url-key,id:base64url-key", newest first: the first one
# is current, the others still read what they protected.
DATA_KEY_BYTES = 32


def parse_data_keys(text: str) -> tuple[tuple[str, bytes], ...]:
    """The (id, key) pairs in `text`, newest first; ValueError (never echoing a key) otherwise."""
    import base64
    import binascii

    pairs = []
    for entry in (part.strip() for part in text.split(",")):
        key_id, separator, encoded = entry.partition(":")
        if not separator or not key_id or not key_id.isalnum():
            raise ValueError("data keys must read 'id:base64url-key', comma-separated")
        try:
            key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise ValueError(f"data key {key_id} is not base64url") from None
        if len(key) < DATA_KEY_BYTES:
            raise ValueError(f"data key {key_id} has {len(key)} bytes, at least 32 are required")
        pairs.append((key_id, key))
    if len({key_id for key_id, _ in pairs}) != len(pairs):
        raise ValueError("data key ids must be unique")
    return tuple(pairs)


def generate_data_key_entry(key_id: str | None = None) -> str:
    """A new "id:key" entry: 256 random bits under a random id."""
    import base64
    import secrets

    key = base64.urlsafe_b64encode(secrets.token_bytes(DATA_KEY_BYTES)).rstrip(b"=").decode()
    return f"{key_id or secrets.token_hex(4)}:{key}"
