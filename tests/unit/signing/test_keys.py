"""Key rings, JWKS and the development key file."""

from __future__ import annotations

import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from authapi.config import Settings
from authapi.key_material import generate_data_key_entry, generate_private_key_pem, load_private_key
from authapi.signing.keys import (
    DataKeys,
    KeyRing,
    SettingsKeyProvider,
    development_key_pem,
    key_id,
)

DATA_KEYS = DataKeys.parse(generate_data_key_entry())

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


async def test_a_forgotten_ring_is_loaded_again_on_next_use(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None, jwt_private_key=generate_private_key_pem(), jwt_private_key_file=tmp_path
    )
    provider = SettingsKeyProvider(settings)
    first = await provider.key_ring()
    assert await provider.key_ring() is first

    provider.forget()

    again = await provider.key_ring()
    assert again is not first
    assert again.signing_kid == first.signing_kid


def test_jwks_lists_current_and_retired_public_keys() -> None:
    current = load_private_key(generate_private_key_pem())
    retired = load_private_key(generate_private_key_pem())
    ring = KeyRing(
        signing_key=current, data_keys=DATA_KEYS, retired_public_keys=(retired.public_key(),)
    )

    jwks = ring.jwks()

    kids = {key["kid"] for key in jwks["keys"]}
    assert kids == {key_id(current.public_key()), key_id(retired.public_key())}
    for key in jwks["keys"]:
        assert set(key) == {"kty", "n", "e", "kid", "use", "alg"}


def test_a_published_next_key_is_listed_and_verifies_but_does_not_sign() -> None:
    current = load_private_key(generate_private_key_pem())
    upcoming = load_private_key(generate_private_key_pem())
    ring = KeyRing(
        signing_key=current,
        data_keys=DATA_KEYS,
        next_public_keys=(upcoming.public_key(),),
        # mid-rotation a key can sit in two lists at once: it is still one key
        retired_public_keys=(current.public_key(),),
    )

    assert ring.signing_kid == key_id(current.public_key())
    assert list(ring.verification_keys) == [ring.signing_kid, key_id(upcoming.public_key())]
    assert [key["kid"] for key in ring.jwks()["keys"]] == list(ring.verification_keys)


def test_processes_making_the_development_key_at_once_end_up_with_one(tmp_path: Path) -> None:
    # two local clouds starting together on a fresh clone: each used to fail on the other's file
    path = tmp_path / ".local" / "dev-signing-key.pem"
    with ThreadPoolExecutor(max_workers=8) as pool:
        pems = list(pool.map(lambda _: development_key_pem(path), range(8)))
    assert len(set(pems)) == 1
    assert pems[0] == path.read_text()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in path.parent.iterdir()) == ["dev-signing-key.pem"]
