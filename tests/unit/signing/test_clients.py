"""The OAuth client registry: what it accepts, and secrets checked only against their HMAC."""

from __future__ import annotations

import pytest

from authapi.key_material import generate_data_key_entry
from authapi.observability.redaction import redact_text
from authapi.signing.clients import (
    ClientRegistry,
    OAuthClient,
    hash_client_secret,
    new_client_secret,
)
from authapi.signing.keys import DataKeys

pytestmark = pytest.mark.unit


def test_a_confidential_clients_secret_matches_only_itself() -> None:
    keys = DataKeys.parse(generate_data_key_entry())
    secret = new_client_secret()
    client = ClientRegistry.entry("billing", secret_hash=hash_client_secret(keys, secret))
    assert client.confidential
    assert client.secret_matches(keys, secret)
    assert not client.secret_matches(keys, secret + "x")
    assert not client.secret_matches(keys, "")
    assert not OAuthClient("mobile").secret_matches(keys, secret)  # public: no secret at all
    # what is stored and shown is never the secret
    assert secret not in client.as_json()["secret_hash"]
    assert "secret_hash" not in repr(client)


def test_a_secret_hashed_under_an_older_data_key_still_matches_until_that_key_leaves() -> None:
    old = generate_data_key_entry("old")
    secret = new_client_secret()
    stored = hash_client_secret(DataKeys.parse(old), secret)
    client = ClientRegistry.entry("billing", secret_hash=stored)
    rotated = DataKeys.parse(f"{generate_data_key_entry('new')},{old}")
    assert client.secret_matches(rotated, secret)
    assert not client.secret_matches(DataKeys.parse(generate_data_key_entry("new")), secret)


def test_the_registry_round_trips_and_the_default_client_is_public_unless_listed() -> None:
    keys = DataKeys.parse(generate_data_key_entry())
    registry = (
        ClientRegistry()
        .with_client(OAuthClient("mobile"))
        .with_client(ClientRegistry.entry("billing", secret_hash=hash_client_secret(keys, "cs_s")))
    )
    again = ClientRegistry.parse(registry.to_json())
    assert again == registry
    assert again.get("mobile", default_client_id="default") == OAuthClient("mobile")
    assert again.get("default", default_client_id="default") == OAuthClient("default")
    assert again.get("nobody", default_client_id="default") is None
    listed = ClientRegistry().with_client(
        ClientRegistry.entry("default", secret_hash=hash_client_secret(keys, "cs_t"))
    )
    default = listed.get("default", default_client_id="default")
    assert default is not None
    assert default.confidential


@pytest.mark.parametrize("text", ["", "none", " none\n"])
def test_no_registry_is_no_client_but_the_default(text: str) -> None:
    assert ClientRegistry.parse(text).clients == {}


@pytest.mark.parametrize(
    "text",
    [
        "{",
        "[]",
        '{"clients": {}}',
        '{"clients": [{"client_id": ""}]}',
        '{"clients": [{"client_id": "has space"}]}',
        '{"clients": [{"client_id": "a", "secret": "plain"}]}',
        '{"clients": [{"client_id": "a", "secret_hash": "no-key-id"}]}',
        '{"clients": [{"client_id": "a", "secret_hash": "k:dG9vIHNob3J0"}]}',
        '{"clients": [{"client_id": "a"}, {"client_id": "a"}]}',
    ],
)
def test_a_malformed_registry_is_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each message is its own
        ClientRegistry.parse(text)


def test_client_secrets_are_masked_in_free_text() -> None:
    secret = new_client_secret()
    assert secret not in redact_text(f"a client sent {secret} somewhere")
