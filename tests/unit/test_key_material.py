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

    def counting_parse(data: bytes, password: bytes | None) -> object:
        calls.append(data)
        return parse(data, password)

    pem = generate_private_key_pem()
    monkeypatch.setattr(serialization, "load_pem_private_key", counting_parse)

    load_private_key(pem)

    assert len(calls) == 1
