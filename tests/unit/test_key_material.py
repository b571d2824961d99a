"""Key material: PEM parsing that refuses unusable keys, public key bundles, parsing once."""

from __future__ import annotations

import pytest

from authapi.key_material import generate_private_key_pem, load_private_key, load_public_keys
from authapi.signing.keys import key_id

pytestmark = pytest.mark.unit


def test_public_key_bundles_are_parsed() -> None:
    from cryptography.hazmat.primitives import serialization

    keys = [load_private_key(generate_private_key_pem()).public_key() for _ in range(2)]
    bundle = "\n".join(
        key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()
        for key in keys
    )

    assert [key_id(key) for key in load_public_keys(bundle)] == [key_id(key) for key in keys]


def test_short_keys_are_refused() -> None:
    with pytest.raises(ValueError, match="2048"):
        load_private_key(generate_private_key_pem(1024))


def test_a_signing_key_is_parsed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # parsing checks the key's arithmetic (tens of milliseconds): it is on the first request's path
    from cryptography.hazmat.primitives import serialization

    parse = serialization.load_pem_private_key
    calls: list[bytes] = []

    def counting_parse(data: bytes, password: bytes | None, **options: bool) -> object:
        calls.append(data)
        return parse(data, password, **options)

    pem = generate_private_key_pem()
    monkeypatch.setattr(serialization, "load_pem_private_key", counting_parse)

    load_private_key(pem)

    assert len(calls) == 1


def _inconsistent_key_pem() -> str:
    """A 2048-bit key whose CRT exponent d mod (p-1) is wrong: what a corrupted store could hold."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    numbers = load_private_key(generate_private_key_pem()).private_numbers()
    broken = rsa.RSAPrivateNumbers(
        p=numbers.p,
        q=numbers.q,
        d=numbers.d,
        dmp1=numbers.dmp1 ^ 2,
        dmq1=numbers.dmq1,
        iqmp=numbers.iqmp,
        public_numbers=numbers.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    return broken.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def test_an_inconsistent_key_is_refused_when_its_arithmetic_is_checked() -> None:
    with pytest.raises(ValueError, match="not an unencrypted PEM private key"):
        load_private_key(_inconsistent_key_pem())


def test_an_unchecked_inconsistent_key_still_signs_correctly() -> None:
    # the reason the SSM key may skip the check at load: OpenSSL verifies each CRT signature and
    # recomputes it without CRT on a mismatch, so a faulty signature (which would reveal a prime
    # factor of the modulus: the Bellcore attack) never leaves the process
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = load_private_key(_inconsistent_key_pem(), check_arithmetic=False)
    signature = key.sign(b"token", padding.PKCS1v15(), hashes.SHA256())

    key.public_key().verify(signature, b"token", padding.PKCS1v15(), hashes.SHA256())
