"""Signing keys from SSM Parameter Store (one GetParameters call: signing/ssm_api.py).

The six parameters (signing key, next public key, retired public keys, data keys, OAuth client
registry, the edge's origin-verify secret) are read in one GetParameters call and cached for
`ssm_cache_seconds`, so a key rotated in SSM (`devtools/rotate_signing_key.py`) is published,
then signing, within that time, without a deploy. The next public key is optional: an
environment whose SSM was written before rotation existed has none, and that reads as "none";
so is the client registry (none: only the default client), and so is the origin-verify secret
(none: no edge is trusted). A token signed with a key this environment does not know yet makes
it re-read SSM at once (at most every 30 s), so tokens from environments that already switched
are accepted meanwhile. If SSM cannot be reached:
- before any key was ever read (a cold start), requests get 503 `secrets_unavailable`;
- after that, the last key read keeps working for up to `ssm_max_stale_seconds`, and SSM is not
  asked again for `RETRY_AFTER_FAILURE_SECONDS`, so an outage does not add SSM timeouts to every
  request. Past that age, 503 again: a key nobody can confirm is not trusted forever.

A tenant other than the default (authapi.tenant_scope) signs with keys of its own, under
`<prefix>tenants/<id>/` in the same layout (`jwt/signing-key`, `jwt/retired-public-keys`,
`jwt/next-public-key`), written by `make tenant-create` (devtools/tenants.py), never by the API.
Its ring is read on the tenant's first request and cached like the default one; the data keys,
the client registry and the origin secret stay the deployment's (one data key ring).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from authapi.clock import Clock
from authapi.config import Settings
from authapi.exceptions import SecretsUnavailableError
from authapi.key_material import load_private_key, load_public_keys
from authapi.signing.clients import NO_CLIENTS, ClientRegistry
from authapi.signing.keys import DataKeys, KeyRing
from authapi.signing.ssm_api import SsmParameters
from authapi.tenant_scope import DEFAULT_TENANT, current_tenant

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

logger = logging.getLogger(__name__)

SIGNING_KEY_PARAMETER = "jwt/signing-key"
RETIRED_KEYS_PARAMETER = "jwt/retired-public-keys"
NEXT_PUBLIC_KEY_PARAMETER = "jwt/next-public-key"
DATA_KEYS_PARAMETER = "data/keys"
OAUTH_CLIENTS_PARAMETER = "oauth/clients"
# the edge's X-Origin-Verify secret (issue 16); absent until an edge stack is deployed
ORIGIN_VERIFY_PARAMETER = "edge/origin-verify"
NO_KEYS = "none"  # SSM refuses empty values
RETRY_AFTER_FAILURE_SECONDS = 30.0
# Short timeouts: a slow SSM costs a request seconds, never the whole function timeout. The
# worst case (every attempt timing out) must leave the database its time inside the function's
# 15 s, so the client gets our 503 and not a Lambda timeout (tests/infra holds the template to it).
SSM_CONNECT_TIMEOUT_SECONDS = 1
SSM_READ_TIMEOUT_SECONDS = 2
SSM_MAX_ATTEMPTS = 2
SSM_WORST_CASE_SECONDS = SSM_MAX_ATTEMPTS * (SSM_CONNECT_TIMEOUT_SECONDS + SSM_READ_TIMEOUT_SECONDS)
# a token signed with an unknown key makes us re-read SSM early, at most this often: a rotated
# key is accepted everywhere at once, and forged `kid`s cannot turn into a flood of SSM calls
MIN_SECONDS_BETWEEN_RELOADS = 30.0
TENANTS_PARAMETER_PREFIX = "tenants/"


def tenant_parameter_prefix(prefix: str, tenant_id: str) -> str:
    """Where a tenant's signing keys live: `<prefix>tenants/<id>/`, the default tenant's at
    `<prefix>` itself."""
    if tenant_id == DEFAULT_TENANT:
        return prefix
    return f"{prefix}{TENANTS_PARAMETER_PREFIX}{tenant_id}/"


class SsmKeyProvider:
    """The key ring from SSM, cached on the app's clock (Powertools' own cache is not used: its
    expiry would read the wall clock, and one clock decides every age here)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        tenant: str = DEFAULT_TENANT,
        parameters: SsmParameters | None = None,
    ):
        assert settings.ssm_parameter_prefix is not None
        self._settings = settings
        self._clock = clock
        self.tenant = tenant
        keys_prefix = tenant_parameter_prefix(settings.ssm_parameter_prefix, tenant)
        self.signing_key_name = keys_prefix + SIGNING_KEY_PARAMETER
        self.retired_keys_name = keys_prefix + RETIRED_KEYS_PARAMETER
        self.next_public_key_name = keys_prefix + NEXT_PUBLIC_KEY_PARAMETER
        self.data_keys_name = settings.ssm_parameter_prefix + DATA_KEYS_PARAMETER
        self.oauth_clients_name = settings.ssm_parameter_prefix + OAUTH_CLIENTS_PARAMETER
        self.origin_verify_name = settings.ssm_parameter_prefix + ORIGIN_VERIFY_PARAMETER
        self._cache_seconds = settings.ssm_cache_seconds
        self._max_stale_seconds = settings.ssm_max_stale_seconds
        self._parameters = parameters or SsmParameters(
            region=settings.aws_region,
            connect_timeout=SSM_CONNECT_TIMEOUT_SECONDS,
            read_timeout=SSM_READ_TIMEOUT_SECONDS,
            max_attempts=SSM_MAX_ATTEMPTS,
        )
        # the other tenants' rings, each read on its tenant's first use (the default's only)
        self._tenants: dict[str, SsmKeyProvider] = {}
        self._ring: KeyRing | None = None
        # the parameter values `_ring` was built from
        self._source: tuple[str, ...] | None = None
        self._read_at = 0.0
        self._retry_at = 0.0
        self._reloaded_at = -MIN_SECONDS_BETWEEN_RELOADS

    def _for_tenant(self) -> SsmKeyProvider:
        """The provider of the current tenant's ring: this one, or one of its own (sharing
        this one's SSM client)."""
        tenant = current_tenant.get()
        if tenant == self.tenant or self.tenant != DEFAULT_TENANT:
            return self
        provider = self._tenants.get(tenant)
        if provider is None:
            provider = SsmKeyProvider(
                self._settings, clock=self._clock, tenant=tenant, parameters=self._parameters
            )
            self._tenants[tenant] = provider
        return provider

    async def key_ring(self) -> KeyRing:
        provider = self._for_tenant()
        if provider is not self:
            return await provider.key_ring()
        # Called on the event loop without a thread hop: almost every call is a cache hit, and in
        # Lambda the rare SSM round trip blocks no other request.
        now = self._clock.now().timestamp()
        if self._ring is not None and now - self._read_at < self._cache_seconds:
            return self._ring
        return self._read(now)

    def _read(self, now: float) -> KeyRing:
        if now < self._retry_at:
            return self._last_ring_or_unavailable(now)
        try:
            values = self._fetch()
        except Exception as error:
            self._retry_at = now + RETRY_AFTER_FAILURE_SECONDS
            cause = error.__context__ or error.__cause__ or error
            logger.error(
                "cannot read signing keys from SSM",
                extra={"parameters": self._names(), "error": type(cause).__name__},
            )
            return self._last_ring_or_unavailable(now)
        if self._ring is None or values != self._source:
            self._ring = self._parse(values)
            self._source = values
        self._read_at = now
        return self._ring

    async def reload(self) -> KeyRing:
        provider = self._for_tenant()
        if provider is not self:
            return await provider.reload()
        now = self._clock.now().timestamp()
        if self._ring is not None and now - self._reloaded_at >= MIN_SECONDS_BETWEEN_RELOADS:
            self._reloaded_at = now
            self._retry_at = 0.0
            return self._read(now)
        return await self.key_ring()

    def forget(self) -> None:
        """Drop the keys, the values they came from and the SSM client; the next request reads
        SSM again. Before a SnapStart snapshot, so no private key is copied into it (a snapshot
        outlives a rotation), and after a restore, so the client signs with the credentials the
        restored environment got, not the ones of the environment that was snapshotted."""
        for provider in self._tenants.values():
            provider.forget()
        self._tenants.clear()
        self._ring = None
        self._source = None
        self._parameters.close()
        self._read_at = 0.0
        self._retry_at = 0.0
        self._reloaded_at = -MIN_SECONDS_BETWEEN_RELOADS

    def _names(self) -> list[str]:
        return [
            self.signing_key_name,
            self.retired_keys_name,
            self.next_public_key_name,
            self.data_keys_name,
            self.oauth_clients_name,
            self.origin_verify_name,
        ]

    def _last_ring_or_unavailable(self, now: float) -> KeyRing:
        if self._ring is not None and now - self._read_at <= self._max_stale_seconds:
            return self._ring
        raise SecretsUnavailableError()

    def _fetch(self) -> tuple[str, ...]:
        # a missing next key is no error (SSM written before rotation existed), nor is a missing
        # client registry (no OAuth client but the default one); the others are
        optional = {self.next_public_key_name, self.oauth_clients_name, self.origin_verify_name}
        values = self._parameters.get(self._names(), optional=optional)
        return (
            str(values[self.signing_key_name]),
            str(values[self.retired_keys_name]),
            str(values.get(self.next_public_key_name, NO_KEYS)),
            str(values[self.data_keys_name]),
            str(values.get(self.oauth_clients_name, NO_CLIENTS)),
            str(values.get(self.origin_verify_name, NO_KEYS)),
        )

    def _parse(self, values: tuple[str, ...]) -> KeyRing:
        signing_pem, retired, next_public, data_keys, clients, origin_secret = values
        try:
            return KeyRing(
                # checked by the tools that write it (bootstrap-signing-key.sh and
                # make rotate-signing-key), not again on every cold start
                signing_key=load_private_key(signing_pem, check_arithmetic=False),
                data_keys=DataKeys.parse(data_keys),
                retired_public_keys=_public_keys(retired),
                next_public_keys=_public_keys(next_public),
                clients=self._clients(clients),
                origin_verify_secret=None if origin_secret.strip() == NO_KEYS else origin_secret,
            )
        except ValueError as error:
            logger.error(
                "signing key parameters are unusable",
                extra={"parameters": self._names(), "error": str(error)},
            )
            raise SecretsUnavailableError() from None

    def _clients(self, text: str) -> ClientRegistry:
        """A registry that cannot be read costs the OAuth clients (invalid_client), not the whole
        API its keys: the JSON API and the default client go on."""
        try:
            return ClientRegistry.parse(text)
        except ValueError as error:
            logger.error(
                "oauth client registry is unusable; only the default client is served",
                extra={"parameter": self.oauth_clients_name, "error": str(error)},
            )
            return ClientRegistry()


def _public_keys(bundle: str) -> tuple[RSAPublicKey, ...]:
    return () if bundle.strip() == NO_KEYS else load_public_keys(bundle)
