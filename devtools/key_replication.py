"""Copying an environment's keys to its disaster-recovery region (issue 16).

Parameter Store has no cross-region replication, so the tools that write the keys
(`make rotate-signing-key`, `infra/bootstrap-signing-key.sh`) also write the DR region: every
parameter they manage, under the same names, its SecureStrings encrypted with the DR region's
replica of the data stack's multi-Region KMS key (`infra/dr-keys.yaml`). The primary region is
the source of truth; a copy makes the DR region hold exactly the primary's values, so running it
again after a failure finishes the job.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from authapi.signing.ssm import (
    DATA_KEYS_PARAMETER,
    NEXT_PUBLIC_KEY_PARAMETER,
    RETIRED_KEYS_PARAMETER,
    SIGNING_KEY_PARAMETER,
)

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

# the same names as devtools.key_rotation's (which imports these, never the other way round)
STATE_PARAMETER = "jwt/rotation"
NEXT_SIGNING_KEY_PARAMETER = "jwt/next-signing-key"
KMS_KEY_PARAMETER = "kms/key-arn"  # published by the data stack (infra/data.yaml)
DR_REGION_PARAMETER = "dr/region"  # published by the data stack, "none" without a DR region
NO_DR_REGION = "none"

# Everything the bootstrap and the rotation write, nothing else (oauth/clients and
# edge/origin-verify have their own writers and are not replicated by these tools).
REPLICATED_PARAMETERS = (
    SIGNING_KEY_PARAMETER,
    RETIRED_KEYS_PARAMETER,
    DATA_KEYS_PARAMETER,
    NEXT_PUBLIC_KEY_PARAMETER,
    NEXT_SIGNING_KEY_PARAMETER,
    STATE_PARAMETER,
)


class ReplicationError(Exception):
    """The DR region could not be made to hold the primary's keys (or is not set up for it)."""


@dataclass(frozen=True)
class Replication:
    region: str
    written: tuple[str, ...]
    deleted: tuple[str, ...]
    unchanged: int

    def summary(self) -> str:
        return (
            f"DR region {self.region}: {len(self.written)} parameter(s) written, "
            f"{len(self.deleted)} deleted, {self.unchanged} already the same"
        )


def replica_key_arn(primary_key_arn: str, region: str) -> str:
    """The ARN of a multi-Region key's replica in `region`: the same key id (mrk-...), in the
    other region. A single-Region key has no replica: the data stack predates issue 16."""
    parts = primary_key_arn.split(":")
    if len(parts) != 6 or not parts[5].startswith("key/mrk-"):
        raise ReplicationError(
            f"{primary_key_arn} is not a multi-Region KMS key: deploy infra/data.yaml "
            "(MultiRegion key) and infra/dr-keys.yaml in the DR region first"
        )
    parts[3] = region
    return ":".join(parts)


def dr_region(primary: SSMClient, *, prefix: str, override: str | None = None) -> str | None:
    """The environment's DR region: `override` (DR_REGION=), else the data stack's DrRegion."""
    if override:
        return override
    try:
        value = primary.get_parameter(Name=prefix + DR_REGION_PARAMETER)["Parameter"]["Value"]
    except primary.exceptions.ParameterNotFound:
        return None
    return None if value == NO_DR_REGION else value


def replicate(
    primary: SSMClient, dr: SSMClient, *, prefix: str, keys_prefix: str | None = None
) -> Replication:
    """Make `dr` hold the primary's value of every replicated parameter (absent where the
    primary has none), SecureStrings under the replica key. Raises botocore's errors as they
    come: what was written before stays, and running it again writes the rest.

    keys_prefix: where the keys are when not under `prefix` (a tenant's, `<prefix>tenants/<id>/`:
    no data keys there, so none are copied); the KMS key is always `prefix`'s."""
    region = dr.meta.region_name
    if region == primary.meta.region_name:
        raise ReplicationError(f"the DR region {region} is the primary region")
    try:
        key_arn = primary.get_parameter(Name=prefix + KMS_KEY_PARAMETER)["Parameter"]["Value"]
    except primary.exceptions.ParameterNotFound:
        raise ReplicationError(f"no {prefix}{KMS_KEY_PARAMETER}: deploy the data stack") from None
    replica_key = replica_key_arn(key_arn, region)
    names = [(keys_prefix or prefix) + name for name in REPLICATED_PARAMETERS]
    source = {
        p["Name"]: p for p in primary.get_parameters(Names=names, WithDecryption=True)["Parameters"]
    }
    copies = {
        p["Name"]: p for p in dr.get_parameters(Names=names, WithDecryption=True)["Parameters"]
    }
    written: list[str] = []
    deleted: list[str] = []
    unchanged = 0
    for name in names:
        wanted, held = source.get(name), copies.get(name)
        if wanted is None:
            if held is not None:
                with contextlib.suppress(dr.exceptions.ParameterNotFound):
                    dr.delete_parameter(Name=name)
                deleted.append(name)
            continue
        if held is not None and (held["Type"], held["Value"]) == (wanted["Type"], wanted["Value"]):
            unchanged += 1
            continue
        if wanted["Type"] == "SecureString":
            dr.put_parameter(
                Name=name,
                Value=wanted["Value"],
                Type="SecureString",
                KeyId=replica_key,
                Overwrite=True,
            )
        else:
            dr.put_parameter(
                Name=name,
                Value=wanted["Value"],
                Type=wanted["Type"],
                Tier="Intelligent-Tiering",
                Overwrite=True,
            )
        written.append(name)
    return Replication(region, tuple(written), tuple(deleted), unchanged)
