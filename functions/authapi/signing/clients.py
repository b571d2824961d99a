"""The OAuth client registry: public clients (a `client_id`) and confidential ones (a secret,
stored only as an HMAC under the data keys, checked in constant time).

Stored as JSON, in Lambda the SSM parameter `<prefix>oauth/clients` (read in the key ring's
GetParameters call, `ssm.py`), in development a git-ignored file (`make oauth-client`):

    {"clients": [{"client_id": "mobile-app"},
                 {"client_id": "billing", "secret_hash": "<data key id>:<base64url HMAC>"}]}

The default client (`AUTHAPI_DEFAULT_CLIENT_ID`, the JSON API's) is a public client even when
the registry does not list it: its sessions are refreshed without a secret through the JSON API
already.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

CLIENT_SECRET_PURPOSE = "oauth:client-secret"
CLIENT_SECRET_PREFIX = "cs_"  # lets log redaction and secret scanners recognise a leaked one
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9._~-]{1,64}$")
NO_CLIENTS = "none"  # SSM refuses empty values


class DataKeys(Protocol):
    """What of `keys.DataKeys` the registry uses (the key ring holds the registry: no import)."""

    @property
    def current_id(self) -> str: ...

    def hmac(self, purpose: str, value: str) -> bytes: ...

    def hmacs(self, purpose: str, value: str) -> tuple[tuple[str, bytes], ...]: ...


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_client_secret() -> str:
    """256 random bits: what a confidential client is given once and authapi never stores."""
    return CLIENT_SECRET_PREFIX + secrets.token_urlsafe(32)


def hash_client_secret(data_keys: DataKeys, secret: str) -> str:
    """`<key id>:<HMAC>` under the current data key: what the registry stores."""
    return f"{data_keys.current_id}:{_b64url(data_keys.hmac(CLIENT_SECRET_PURPOSE, secret))}"


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    # (data key id, HMAC of the secret); None for a public client
    secret_hash: tuple[str, bytes] | None = field(default=None, repr=False)

    @property
    def confidential(self) -> bool:
        return self.secret_hash is not None

    def secret_matches(self, data_keys: DataKeys, secret: str) -> bool:
        """Constant time in the secret; a key that left the ring matches nothing."""
        if self.secret_hash is None:
            return False
        key_id, expected = self.secret_hash
        for candidate_id, digest in data_keys.hmacs(CLIENT_SECRET_PURPOSE, secret):
            if candidate_id == key_id:
                return hmac.compare_digest(digest, expected)
        return False

    def as_json(self) -> dict[str, str]:
        entry = {"client_id": self.client_id}
        if self.secret_hash is not None:
            entry["secret_hash"] = f"{self.secret_hash[0]}:{_b64url(self.secret_hash[1])}"
        return entry


def _client(entry: Any) -> OAuthClient:
    if not isinstance(entry, dict) or set(entry) - {"client_id", "secret_hash"}:
        raise ValueError("each client is {client_id, secret_hash?}")
    client_id = entry.get("client_id")
    if not isinstance(client_id, str) or not CLIENT_ID_PATTERN.match(client_id):
        raise ValueError("a client_id is 1 to 64 of A-Z a-z 0-9 . _ ~ -")
    stored = entry.get("secret_hash")
    if stored is None:
        return OAuthClient(client_id)
    key_id, separator, encoded = str(stored).partition(":")
    try:
        digest = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        digest = b""
    if not separator or not key_id or len(digest) != 32:
        raise ValueError(f"client {client_id}: secret_hash must read '<key id>:<base64url HMAC>'")
    return OAuthClient(client_id, (key_id, digest))


@dataclass(frozen=True)
class ClientRegistry:
    clients: Mapping[str, OAuthClient] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> ClientRegistry:
        """The registry in `text` (JSON, or `none`); ValueError (never echoing a hash) otherwise."""
        if not text.strip() or text.strip() == NO_CLIENTS:
            return cls()
        try:
            document = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError("the OAuth client registry is not JSON") from None
        entries = document.get("clients") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ValueError('the OAuth client registry reads {"clients": [...]}')
        clients = [_client(entry) for entry in entries]
        if len({client.client_id for client in clients}) != len(clients):
            raise ValueError("OAuth client ids must be unique")
        return cls({client.client_id: client for client in clients})

    def get(self, client_id: str, *, default_client_id: str) -> OAuthClient | None:
        """The registered client, or the default client (public unless listed), or None."""
        client = self.clients.get(client_id)
        if client is None and client_id == default_client_id:
            return OAuthClient(client_id)
        return client

    @staticmethod
    def entry(client_id: str, *, secret_hash: str | None = None) -> OAuthClient:
        """A client as the registry would read it (`secret_hash` as hash_client_secret gives)."""
        entry = {"client_id": client_id}
        if secret_hash is not None:
            entry["secret_hash"] = secret_hash
        return _client(entry)

    def with_client(self, client: OAuthClient) -> ClientRegistry:
        return ClientRegistry({**self.clients, client.client_id: client})

    def to_json(self) -> str:
        entries = [client.as_json() for client in self.clients.values()]
        return json.dumps({"clients": entries}, indent=2) + "\n"
