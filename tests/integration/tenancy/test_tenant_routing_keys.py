"""A tenant's signing keys: made by the admin CLI function under `<prefix>tenants/<id>/` (moto's
SSM), read by the API's key provider on the tenant's first use, apart from the default's."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from authapi.clock import SystemClock
from authapi.key_material import generate_private_key_pem, load_private_key
from authapi.signing.keys import SettingsKeyProvider, key_id
from authapi.signing.ssm import SsmKeyProvider
from authapi.tenant_scope import current_tenant
from devtools.key_rotation import Rotation, Waits
from devtools.rotate_signing_key import main as rotate_main
from devtools.tenants import TenantRefused, create_tenant_keys, store_local_tenant_keys
from tests.support.aws import (
    DATA_KEYS_PARAMETER,
    PREFIX,
    SIGNING_KEY_PARAMETER,
    lambda_settings,
    put_keys,
    put_kms_key_arn,
)
from tests.support.clock import ManualClock

if TYPE_CHECKING:
    from pathlib import Path

    from mypy_boto3_ssm import SSMClient

    from authapi.config import Settings
    from tests.support.db import ScratchDatabase

pytestmark = pytest.mark.integration

SMALL_KEY_BITS = 2048  # production makes 3072; the size changes nothing here


def test_create_tenant_keys_writes_the_deployments_layout_under_tenants(ssm: SSMClient) -> None:
    put_kms_key_arn(ssm)
    kid = create_tenant_keys("acme", ssm=ssm, prefix=PREFIX, key_bits=SMALL_KEY_BITS)
    signing = ssm.get_parameter(Name=f"{PREFIX}tenants/acme/jwt/signing-key", WithDecryption=True)
    assert signing["Parameter"]["Type"] == "SecureString"
    assert key_id(load_private_key(signing["Parameter"]["Value"]).public_key()) == kid
    retired = ssm.get_parameter(Name=f"{PREFIX}tenants/acme/jwt/retired-public-keys")
    assert retired["Parameter"]["Value"] == "none"
    # again: the key that exists is kept
    assert create_tenant_keys("acme", ssm=ssm, prefix=PREFIX, key_bits=SMALL_KEY_BITS) == kid


def test_create_tenant_keys_refuses_bad_ids_and_an_environment_without_kms(ssm: SSMClient) -> None:
    for bad in ("default", "Acme", "-x", "a" * 33, "a/b"):
        with pytest.raises(TenantRefused):
            create_tenant_keys(bad, ssm=ssm, prefix=PREFIX)
    with pytest.raises(TenantRefused, match="kms"):
        create_tenant_keys("acme", ssm=ssm, prefix=PREFIX, key_bits=SMALL_KEY_BITS)


async def test_create_tenant_keys_locally_writes_the_file_the_development_provider_reads(
    tmp_path: Path, settings: Settings
) -> None:
    key_file = tmp_path / "dev-signing-key.pem"
    kid = create_tenant_keys("acme", key_file=key_file)
    assert (tmp_path / "tenants" / "acme" / "dev-signing-key.pem").exists()
    development = settings.model_copy(
        update={"environment": "development", "jwt_private_key_file": key_file}
    )
    provider = SettingsKeyProvider(development)
    token = current_tenant.set("acme")
    try:
        assert (await provider.key_ring()).signing_kid == kid
    finally:
        current_tenant.reset(token)


async def test_the_ssm_provider_reads_a_tenants_ring_apart_from_the_default(
    ssm: SSMClient, test_database: ScratchDatabase
) -> None:
    default_pem = generate_private_key_pem()
    put_keys(ssm, default_pem)
    put_kms_key_arn(ssm)
    tenant_kid = create_tenant_keys("acme", ssm=ssm, prefix=PREFIX, key_bits=SMALL_KEY_BITS)
    provider = SsmKeyProvider(lambda_settings(test_database), clock=SystemClock())
    default_ring = await provider.key_ring()
    token = current_tenant.set("acme")
    try:
        tenant_ring = await provider.key_ring()
        # cached: the same ring on the tenant's next request
        assert await provider.key_ring() is tenant_ring
    finally:
        current_tenant.reset(token)
    assert default_ring.signing_kid == key_id(load_private_key(default_pem).public_key())
    assert tenant_ring.signing_kid == tenant_kid
    assert set(tenant_ring.verification_keys) == {tenant_kid}
    assert tenant_kid not in default_ring.verification_keys
    # one data key ring: the tenant's hashes and seals are the deployment's
    assert tenant_ring.data_keys == default_ring.data_keys
    assert await provider.key_ring() is default_ring


async def test_the_local_clouds_ssm_gets_the_developers_tenant_keys(
    tmp_path: Path, ssm: SSMClient, test_database: ScratchDatabase
) -> None:
    key_file = tmp_path / "dev-signing-key.pem"
    kid = create_tenant_keys("acme", key_file=key_file)
    put_keys(ssm, generate_private_key_pem())
    assert store_local_tenant_keys(ssm, PREFIX, key_file=key_file) == ["acme"]
    provider = SsmKeyProvider(lambda_settings(test_database), clock=SystemClock())
    token = current_tenant.set("acme")
    try:
        assert (await provider.key_ring()).signing_kid == kid
    finally:
        current_tenant.reset(token)


async def test_a_tenants_key_rotates_alone_the_deployments_keys_untouched(
    ssm: SSMClient, test_database: ScratchDatabase
) -> None:
    put_keys(ssm, generate_private_key_pem())
    put_kms_key_arn(ssm)
    old_kid = create_tenant_keys("acme", ssm=ssm, prefix=PREFIX, key_bits=SMALL_KEY_BITS)
    before = {
        name: ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        for name in (SIGNING_KEY_PARAMETER, DATA_KEYS_PARAMETER)
    }
    clock = ManualClock()
    waits = Waits(publish_to_promote=timedelta(seconds=10), promote_to_retire=timedelta(seconds=5))
    rotation = Rotation(
        ssm, prefix=PREFIX, waits=waits, clock=clock, key_bits=SMALL_KEY_BITS, tenant="acme"
    )
    rotation.publish()

    async def ring_kids() -> tuple[str, set[str]]:
        # a provider of its own each time: no cache between phases
        provider = SsmKeyProvider(lambda_settings(test_database), clock=SystemClock())
        token = current_tenant.set("acme")
        try:
            ring = await provider.key_ring()
        finally:
            current_tenant.reset(token)
        return ring.signing_kid, set(ring.verification_keys)

    signing, published = await ring_kids()
    assert signing == old_kid
    assert len(published) == 2
    clock.advance(10)
    rotation.promote()
    new_signing, after_promote = await ring_kids()
    assert new_signing != old_kid
    assert after_promote == published  # the old key stays until retired
    clock.advance(5)
    rotation.retire()
    assert (await ring_kids())[1] == {new_signing}
    after = {
        name: ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        for name in (SIGNING_KEY_PARAMETER, DATA_KEYS_PARAMETER)
    }
    assert after == before


def test_the_rotation_command_copies_a_tenants_keys_to_the_dr_region(
    ssm: SSMClient, capsys: pytest.CaptureFixture[str]
) -> None:
    import boto3

    assert PREFIX == "/authapi/dev/"  # what `rotate_main(["dev", ...])` rotates
    kms = boto3.client("kms", region_name=ssm.meta.region_name)
    primary = kms.create_key(MultiRegion=True)["KeyMetadata"]
    replica = kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion="us-west-2")
    ssm.put_parameter(Name=f"{PREFIX}kms/key-arn", Value=primary["Arn"], Type="String")
    ssm.put_parameter(Name=f"{PREFIX}dr/region", Value="us-west-2", Type="String")
    put_keys(ssm, generate_private_key_pem())
    create_tenant_keys("acme", ssm=ssm, prefix=PREFIX, key_bits=SMALL_KEY_BITS)
    dr = boto3.client("ssm", region_name="us-west-2")

    status = rotate_main(["dev", "replicate", "--tenant", "acme"], ssm=ssm, dr_ssm=dr)
    assert status == 0, capsys.readouterr().err
    copies = {p["Name"]: p for p in dr.describe_parameters()["Parameters"]}
    tenant_key = f"{PREFIX}tenants/acme/jwt/signing-key"
    assert set(copies) == {tenant_key, f"{PREFIX}tenants/acme/jwt/retired-public-keys"}
    assert copies[tenant_key]["KeyId"] == replica["ReplicaKeyMetadata"]["Arn"]
    assert rotate_main(["dev", "publish", "--tenant", "Not An Id"], ssm=ssm, dr_ssm=dr) == 1
