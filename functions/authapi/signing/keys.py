"""The key ring (the RSA key that signs access tokens, the public keys that verify them) and the
Protocol of its providers, with the one that reads settings. SSM's provider is in `ssm.py`; the
composition root (`app.py`) chooses between them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import SecretStr

from authapi.config import Settings
from authapi.exceptions import SecretsUnavailableError
from authapi.key_material import (
    generate_data_key_entry,
    generate_private_key_pem,
    load_private_key,
    load_public_keys,
    parse_data_keys,
)
from authapi.signing.clients import ClientRegistry
from authapi.tenant_scope import DEFAULT_TENANT, current_tenant

logger = logging.getLogger(__name__)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_key: rsa.RSAPublicKey) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(public_key))
    return {"kty": jwk["kty"], "n": jwk["n"], "e": jwk["e"]}


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 JWK thumbprint: stable for a key, different for every other key."""
    canonical = json.dumps(public_jwk(public_key), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class DataKeys:
    """The versioned secret behind every keyed hash: the newest key makes them, older ones stay
    for what they already protect. Without the key a hash cannot be reversed by a dictionary of
    emails, which a bare SHA-256 can."""

    keys: tuple[tuple[str, bytes], ...]  # (id, key), newest first

    @classmethod
    def parse(cls, text: str) -> DataKeys:
        return cls(parse_data_keys(text))

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    def hmac(self, purpose: str, value: str) -> bytes:
        """HMAC-SHA256 of `value` under the current key, separated by `purpose` so that one value
        hashed for two uses gives two unrelated digests."""
        message = purpose.encode() + b"\0" + value.encode("utf-8", "surrogatepass")
        return hmac.new(self.keys[0][1], message, hashlib.sha256).digest()

    def hmacs(self, purpose: str, value: str) -> tuple[tuple[str, bytes], ...]:
        """`hmac(purpose, value)` under every key, as (key id, digest), newest first: what a value
        derived under a key that has since stopped being current still matches."""
        message = purpose.encode() + b"\0" + value.encode("utf-8", "surrogatepass")
        return tuple(
            (key_id, hmac.new(key, message, hashlib.sha256).digest()) for key_id, key in self.keys
        )

    def __repr__(self) -> str:
        return f"DataKeys(ids={[key_id for key_id, _ in self.keys]})"  # never the keys


@dataclass(frozen=True)
class KeyRing:
    """The key that signs now, every public key a token we issued may still be signed with, the
    keys published to sign next, and the data keys (one secret, read with the signing key,
    rotated by the same command)."""

    signing_key: rsa.RSAPrivateKey
    data_keys: DataKeys
    retired_public_keys: tuple[rsa.RSAPublicKey, ...] = ()
    # Published before they sign (`make rotate-signing-key PHASE=publish`): verifiers that cache
    # the JWKS hold them by the time they sign, and so does this instance, which then accepts
    # tokens from instances that switched first without re-reading SSM.
    next_public_keys: tuple[rsa.RSAPublicKey, ...] = ()
    # the OAuth clients (signing/clients.py): read with the keys, in the same SSM call
    clients: ClientRegistry = field(default_factory=ClientRegistry)
    # The value CloudFront sends as X-Origin-Verify (the edge template's origin custom header):
    # only a request carrying it may name its viewer's address (authapi.middleware.edge_origin).
    # None: no edge in front, CloudFront-Viewer-Address is never trusted.
    origin_verify_secret: str | None = field(default=None, repr=False)

    @cached_property
    def signing_kid(self) -> str:
        return key_id(self.signing_key.public_key())

    @cached_property
    def verification_keys(self) -> Mapping[str, rsa.RSAPublicKey]:
        # the signing key first; a key in two places (mid-rotation) is listed once
        keys = {self.signing_kid: self.signing_key.public_key()}
        for public in (*self.next_public_keys, *self.retired_public_keys):
            keys.setdefault(key_id(public), public)
        return keys

    def jwks(self) -> dict[str, list[dict[str, Any]]]:
        return {
            "keys": [
                {**public_jwk(public), "kid": kid, "use": "sig", "alg": "RS256"}
                for kid, public in self.verification_keys.items()
            ]
        }


def _development_secret(path: Path, make: Callable[[], str], what: str) -> str:
    """A developer's own secret: made once, kept out of git (.local/ is ignored), mode 0600.

    Two processes starting at once (two local clouds, a test run beside `make run`) must end up
    with one secret: each writes a file of its own, and linking it into place is atomic, so the
    first one wins and every process reads the winner's.
    """
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    # mkstemp: a name of this call's own, created 0600
    descriptor, draft = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(descriptor, "w") as file:
        file.write(make())
    try:
        os.link(draft, path)
        logger.info(f"generated a development {what}", extra={"path": str(path)})
    except FileExistsError:
        pass  # another process made it first: use theirs
    finally:
        os.unlink(draft)
    return path.read_text()


def development_data_keys(path: Path) -> str:
    return _development_secret(path, generate_data_key_entry, "data key")


def tenant_key_file(default_key_file: Path, tenant_id: str) -> Path:
    """A tenant's development signing key: `tenants/<id>/` beside the default tenant's
    (`.local/tenants/<id>/dev-signing-key.pem`), as SSM has it under `<prefix>tenants/<id>/`."""
    if tenant_id == DEFAULT_TENANT:
        return default_key_file
    return default_key_file.parent / "tenants" / tenant_id / default_key_file.name


def development_key_pem(path: Path) -> str:
    """The developer's own signing key: generated once, kept in .local/ (git-ignored), 0600."""
    return _development_secret(path, generate_private_key_pem, "signing key")


class KeyProvider(Protocol):
    """Where the key ring comes from: settings here, SSM Parameter Store in Lambda."""

    async def key_ring(self) -> KeyRing: ...

    async def reload(self) -> KeyRing:
        """Read the keys again now, ignoring caches (a token named a key we do not know)."""
        ...

    def forget(self) -> None:
        """Drop every key held in memory; the next `key_ring()` reads them again (SnapStart)."""
        ...


class SettingsKeyProvider:
    """Keys from `AUTHAPI_JWT_PRIVATE_KEY`; in development, from a generated file.

    Another tenant than the default signs with a key of its own: in development the file
    `make tenant-create` writes (`tenant_key_file`), made on first use if missing; in tests a
    throwaway key per tenant; in production there is none (tenants need SSM): 503. Its ring
    shares the default ring's data keys, clients and origin secret.
    """

    def __init__(self, settings: Settings):
        self._settings = settings
        self._ring: KeyRing | None = None
        self._tenant_rings: dict[str, KeyRing] = {}

    async def key_ring(self) -> KeyRing:
        if self._ring is None:
            self._ring = self._load()
        tenant = current_tenant.get()
        if tenant == DEFAULT_TENANT:
            return self._ring
        ring = self._tenant_rings.get(tenant)
        if ring is None:
            ring = self._tenant_rings[tenant] = self._load_tenant(self._ring, tenant)
        return ring

    async def reload(self) -> KeyRing:
        return await self.key_ring()  # settings do not change while the process runs

    def forget(self) -> None:
        self._ring = None
        self._tenant_rings.clear()

    def _load_tenant(self, default: KeyRing, tenant: str) -> KeyRing:
        settings = self._settings
        if settings.environment == "production":
            logger.error("tenant signing keys need SSM", extra={"tenant": tenant})
            raise SecretsUnavailableError()
        if settings.environment == "development":
            pem = development_key_pem(tenant_key_file(settings.jwt_private_key_file, tenant))
        else:
            pem = generate_private_key_pem()
        return replace(
            default,
            signing_key=load_private_key(pem),
            retired_public_keys=(),
            next_public_keys=(),
        )

    def _secret(
        self,
        configured: SecretStr | None,
        developers_own: Callable[[], str],
        throwaway: Callable[[], str],
    ) -> str:
        """The configured secret; else the developer's own file; else (tests) a throwaway one.
        Production without it is refused earlier, by Settings."""
        if configured is not None:
            return configured.get_secret_value()
        if self._settings.environment == "development":
            return developers_own()
        return throwaway()

    def _load(self) -> KeyRing:
        settings = self._settings
        pem = self._secret(
            settings.jwt_private_key,
            lambda: development_key_pem(settings.jwt_private_key_file),
            generate_private_key_pem,
        )
        data_keys = self._secret(
            settings.data_keys,
            lambda: development_data_keys(settings.data_keys_file),
            generate_data_key_entry,
        )
        retired = settings.jwt_retired_public_keys
        origin_secret = settings.origin_verify_secret
        return KeyRing(
            signing_key=load_private_key(pem),
            data_keys=DataKeys.parse(data_keys),
            retired_public_keys=load_public_keys(retired) if retired else (),
            clients=ClientRegistry.parse(self._clients()),
            origin_verify_secret=origin_secret.get_secret_value() if origin_secret else None,
        )

    def _clients(self) -> str:
        """`AUTHAPI_OAUTH_CLIENTS`; in development the file `make oauth-client` writes, if any."""
        settings = self._settings
        if settings.oauth_clients is not None:
            return settings.oauth_clients
        path = settings.oauth_clients_file
        if settings.environment == "development" and path.exists():
            return path.read_text()
        return ""
