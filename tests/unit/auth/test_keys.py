"""Key rings, JWKS and the development key file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from authapi.auth.keys import (
    KeyRing,
    SettingsKeyProvider,
    generate_private_key_pem,
    key_id,
    load_private_key,
    load_public_keys,
)
from authapi.config import Settings

pytestmark = pytest.mark.unit


async def test_development_key_is_generated_once_into_a_private_file(tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "dev.pem"
    settings = Settings(_env_file=None, environment="development", jwt_private_key_file=key_file)

    first = await SettingsKeyProvider(settings).key_ring()
    second = await SettingsKeyProvider(settings).key_ring()

    assert key_file.exists()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.signing_kid == second.signing_kid


async def test_configured_key_is_used(tmp_path: Path) -> None:
    pem = generate_private_key_pem()
    settings = Settings(
        _env_file=None, jwt_private_key=pem, jwt_private_key_file=tmp_path / "unused.pem"
    )

    ring = await SettingsKeyProvider(settings).key_ring()

    assert ring.signing_kid == key_id(load_private_key(pem).public_key())
    assert not (tmp_path / "unused.pem").exists()


def test_jwks_lists_current_and_retired_public_keys() -> None:
    current = load_private_key(generate_private_key_pem())
    retired = load_private_key(generate_private_key_pem())
    ring = KeyRing(signing_key=current, retired_public_keys=(retired.public_key(),))

    jwks = ring.jwks()

    kids = {key["kid"] for key in jwks["keys"]}
    assert kids == {key_id(current.public_key()), key_id(retired.public_key())}
    for key in jwks["keys"]:
        assert set(key) == {"kty", "n", "e", "kid", "use", "alg"}


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
