"""`make tenant-create TENANT=<id> NAME=<name> [ENV=dev|prod]`: a new tenant (realm) and its keys.

A tenant signs its access tokens with keys of its own (README, "Tenants"), laid out as the
deployment's are, under `<prefix>tenants/<id>/`: `jwt/signing-key` (a SecureString under the
data stack's KMS key) and `jwt/retired-public-keys`. The API's IAM role only reads them, so an
operator creates them here, with the account's credentials, as for the key rotation; the data
keys stay the deployment's (one data key ring).

Without ENV the tenant is local: its row in the local database (the embedded one, or
AUTHAPI_DATABASE_URL) and its key in `.local/tenants/<id>/dev-signing-key.pem`, which `make dev`
reads and `make run` copies into its SSM stand-in at start. With ENV only the keys are written
(SSM `/authapi/<env>/tenants/<id>/`); the row then comes from the admin API. Running it again
keeps the key that exists: creating a tenant twice never changes its keys.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from authapi.key_material import generate_private_key_pem, load_private_key
from authapi.signing.keys import development_key_pem, key_id, tenant_key_file
from authapi.signing.ssm import (
    NO_KEYS,
    RETIRED_KEYS_PARAMETER,
    SIGNING_KEY_PARAMETER,
    tenant_parameter_prefix,
)
from authapi.tenant_scope import DEFAULT_TENANT, valid_tenant_id
from devtools.key_replication import KMS_KEY_PARAMETER
from devtools.key_rotation import PRODUCTION_KEY_BITS

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

LOCAL_KEY_FILE = Path(".local/dev-signing-key.pem")  # Settings.jwt_private_key_file's default
LOCAL_DATABASE = "authapi"
ENVIRONMENTS = ("dev", "prod")


class TenantRefused(Exception):
    """A tenant id that cannot be one, or an environment not ready for tenant keys."""


def check_tenant_id(tenant_id: str) -> None:
    if tenant_id == DEFAULT_TENANT or not valid_tenant_id(tenant_id):
        raise TenantRefused(
            f"{tenant_id!r}: a tenant id is 1 to 32 of a-z 0-9 and '-', starting with a letter "
            f"or digit, and not {DEFAULT_TENANT!r}"
        )


def create_tenant_keys(
    tenant_id: str,
    *,
    ssm: SSMClient | None = None,
    prefix: str | None = None,
    key_file: Path = LOCAL_KEY_FILE,
    key_bits: int = PRODUCTION_KEY_BITS,
) -> str:
    """The tenant's signing key, made if it has none; returns its key id (`kid`).

    Args:
        ssm: write to SSM under `<prefix>tenants/<id>/` (prefix: `/authapi/<env>/`); without it
            the developer's file beside `key_file` (`tenant_key_file`).
        key_bits: the RSA size of a key made in SSM (local keys take the development size).
    """
    check_tenant_id(tenant_id)
    if ssm is None:
        pem = development_key_pem(tenant_key_file(key_file, tenant_id))
        return key_id(load_private_key(pem).public_key())
    if prefix is None:
        raise TenantRefused("an SSM prefix is needed with an SSM client")
    keys_prefix = tenant_parameter_prefix(prefix, tenant_id)
    existing = _get(ssm, keys_prefix + SIGNING_KEY_PARAMETER)
    if existing is not None:
        if _get(ssm, keys_prefix + RETIRED_KEYS_PARAMETER) is None:
            _put_retired(ssm, keys_prefix)  # a run interrupted between its two writes
        return key_id(load_private_key(existing).public_key())
    kms_key = _get(ssm, prefix + KMS_KEY_PARAMETER)
    if kms_key is None:
        raise TenantRefused(f"no {prefix}{KMS_KEY_PARAMETER}: deploy the data stack")
    pem = generate_private_key_pem(key_bits)
    # the retired list first: the key ring needs both, and the signing key says "done"
    _put_retired(ssm, keys_prefix)
    ssm.put_parameter(
        Name=keys_prefix + SIGNING_KEY_PARAMETER,
        Value=pem,
        Type="SecureString",
        KeyId=kms_key,
        Overwrite=False,
    )
    return key_id(load_private_key(pem).public_key())


def store_local_tenant_keys(
    ssm: SSMClient, prefix: str, *, key_file: Path = LOCAL_KEY_FILE
) -> list[str]:
    """Copy the developer's tenant keys into an SSM stand-in (the local cloud's, at start), as
    `create_tenant_keys` lays them out in AWS; the tenants copied."""
    copied = []
    for path in sorted((key_file.parent / "tenants").glob(f"*/{key_file.name}")):
        tenant_id = path.parent.name
        if tenant_id == DEFAULT_TENANT or not valid_tenant_id(tenant_id):
            continue
        keys_prefix = tenant_parameter_prefix(prefix, tenant_id)
        ssm.put_parameter(
            Name=keys_prefix + SIGNING_KEY_PARAMETER,
            Value=path.read_text(),
            Type="SecureString",
            Overwrite=True,
        )
        _put_retired(ssm, keys_prefix)
        copied.append(tenant_id)
    return copied


def _get(ssm: SSMClient, name: str) -> str | None:
    try:
        return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        return None


def _put_retired(ssm: SSMClient, keys_prefix: str) -> None:
    ssm.put_parameter(
        Name=keys_prefix + RETIRED_KEYS_PARAMETER, Value=NO_KEYS, Type="String", Overwrite=True
    )


async def insert_tenant(database_url: str, tenant_id: str, name: str) -> bool:
    """The tenant's row (enabled, the deployment's settings); False if it existed already."""
    from sqlalchemy.dialects.postgresql import insert

    from authapi.clock import SystemClock
    from authapi.config import Settings
    from authapi.db.engine import Database
    from authapi.db.session import unit_of_work
    from authapi.models.tenant import Tenant

    check_tenant_id(tenant_id)
    database = Database(Settings(environment="development", database_url=database_url))
    statement = (
        insert(Tenant)
        .values(id=tenant_id, name=name, settings={}, created_at=SystemClock().now())
        .on_conflict_do_nothing(index_elements=[Tenant.id])
        .returning(Tenant.id)
    )
    try:
        async with unit_of_work(database) as db:
            return (await db.execute(statement)).scalar_one_or_none() is not None
    finally:
        await database.dispose()


def main(argv: list[str] | None = None, *, ssm: SSMClient | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tenant_id")
    parser.add_argument("--name", default=None, help="a display name (default: the id)")
    parser.add_argument("--env", choices=ENVIRONMENTS, default=None)
    args = parser.parse_args(argv)
    try:
        if args.env is None:
            from devtools.embedded_postgres import local_database

            check_tenant_id(args.tenant_id)
            database = local_database(LOCAL_DATABASE)
            created = asyncio.run(
                insert_tenant(database.url, args.tenant_id, args.name or args.tenant_id)
            )
            kid = create_tenant_keys(args.tenant_id)
            print(f"{args.tenant_id}: {'created' if created else 'exists already'}; key {kid}")
            print(f"serves /t/{args.tenant_id}/api/v1/... (restart `make run` to load its key)")
            return 0
        if ssm is None:
            import boto3

            ssm = boto3.client("ssm")
        kid = create_tenant_keys(args.tenant_id, ssm=ssm, prefix=f"/authapi/{args.env}/")
    except TenantRefused as refusal:
        print(f"refused: {refusal}", file=sys.stderr)
        return 1
    print(f"{args.tenant_id}: signing key {kid} in /authapi/{args.env}/tenants/{args.tenant_id}/")
    print("next: create the tenant through the admin API (docs/tenancy.md)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
