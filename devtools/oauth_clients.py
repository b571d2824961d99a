"""`make oauth-client CLIENT_ID=... [CONFIDENTIAL=1] [ENV=dev|prod]`: register an OAuth client.

A public client is its id alone. A confidential one gets a secret, printed once and never
stored: the registry keeps its HMAC under the current data key (signing/clients.py). Without
ENV the registry is the developer's own file (`.local/oauth-clients.json`, git-ignored), keyed
with the developer's data keys, which `make dev` and `make run` read at start; with ENV it is
the SSM parameter `/authapi/<env>/oauth/clients` (a SecureString under the data stack's KMS key),
keyed with that environment's data keys, which the API reads within AUTHAPI_SSM_CACHE_SECONDS.
`make oauth-client-remove CLIENT_ID=...` takes one out. Needs AWS credentials with ENV, like the
key rotation.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from authapi.signing.clients import (
    CLIENT_ID_PATTERN,
    NO_CLIENTS,
    ClientRegistry,
    hash_client_secret,
    new_client_secret,
)
from authapi.signing.keys import DataKeys, development_data_keys
from devtools.key_replication import KMS_KEY_PARAMETER

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

LOCAL_DIR = Path(".local")
REGISTRY_FILE = LOCAL_DIR / "oauth-clients.json"
DATA_KEYS_FILE = LOCAL_DIR / "data-keys"
CLIENTS_PARAMETER = "oauth/clients"
DATA_KEYS_PARAMETER = "data/keys"


class Store(Protocol):
    """Where one registry lives, and the data keys its secrets are hashed with."""

    def read(self) -> ClientRegistry: ...

    def write(self, registry: ClientRegistry) -> None: ...

    def data_keys(self) -> DataKeys: ...


class LocalStore:
    def __init__(self, directory: Path = LOCAL_DIR):
        self.path = directory / REGISTRY_FILE.name
        self.keys = directory / DATA_KEYS_FILE.name

    def read(self) -> ClientRegistry:
        return (
            ClientRegistry.parse(self.path.read_text()) if self.path.exists() else ClientRegistry()
        )

    def write(self, registry: ClientRegistry) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(registry.to_json())

    def data_keys(self) -> DataKeys:
        return DataKeys.parse(development_data_keys(self.keys))


class SsmStore:
    def __init__(self, ssm: SSMClient, prefix: str):
        self._ssm = ssm
        self._prefix = prefix

    def _get(self, name: str) -> str | None:
        try:
            response = self._ssm.get_parameter(Name=self._prefix + name, WithDecryption=True)
        except self._ssm.exceptions.ParameterNotFound:
            return None
        return response["Parameter"]["Value"]

    def read(self) -> ClientRegistry:
        return ClientRegistry.parse(self._get(CLIENTS_PARAMETER) or NO_CLIENTS)

    def write(self, registry: ClientRegistry) -> None:
        kms_key = self._get(KMS_KEY_PARAMETER)
        if kms_key is None:
            raise SystemExit(f"no {self._prefix}{KMS_KEY_PARAMETER}: deploy the data stack")
        self._ssm.put_parameter(
            Name=self._prefix + CLIENTS_PARAMETER,
            Value=registry.to_json() if registry.clients else NO_CLIENTS,
            Type="SecureString",
            KeyId=kms_key,
            Overwrite=True,
        )

    def data_keys(self) -> DataKeys:
        text = self._get(DATA_KEYS_PARAMETER)
        if text is None:
            raise SystemExit(f"no {self._prefix}{DATA_KEYS_PARAMETER}: bootstrap the keys first")
        return DataKeys.parse(text)


def add(store: Store, client_id: str, *, confidential: bool) -> str | None:
    """Register the client (replacing one of that id); its secret, if confidential."""
    if not CLIENT_ID_PATTERN.match(client_id):
        raise SystemExit("a client_id is 1 to 64 of A-Z a-z 0-9 . _ ~ -")
    secret = new_client_secret() if confidential else None
    secret_hash = hash_client_secret(store.data_keys(), secret) if secret else None
    store.write(store.read().with_client(ClientRegistry.entry(client_id, secret_hash=secret_hash)))
    return secret


def remove(store: Store, client_id: str) -> bool:
    registry = store.read()
    if client_id not in registry.clients:
        return False
    store.write(ClientRegistry({k: v for k, v in registry.clients.items() if k != client_id}))
    return True


def main(argv: list[str] | None = None, *, ssm: SSMClient | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["add", "remove"])
    parser.add_argument("client_id")
    parser.add_argument("--confidential", action="store_true")
    parser.add_argument("--env", choices=["dev", "prod"])
    args = parser.parse_args(argv)
    store: Store
    if args.env is None:
        store = LocalStore()
    else:
        if ssm is None:
            import boto3

            ssm = boto3.client("ssm")
        store = SsmStore(ssm, f"/authapi/{args.env}/")
    if args.action == "remove":
        if not remove(store, args.client_id):
            print(f"no client {args.client_id}", file=sys.stderr)
            return 1
        print(f"removed {args.client_id}")
        return 0
    secret = add(store, args.client_id, confidential=args.confidential)
    kind = "confidential (client_secret_basic)" if secret else "public (client_id only)"
    print(f"registered {args.client_id}: {kind}")
    if secret:
        # the one time it is shown: only its HMAC is kept
        print(f"client_secret: {secret}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
