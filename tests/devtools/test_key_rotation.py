"""devtools.key_rotation and the rotate-signing-key command, against moto's SSM: each phase
refuses before its time and out of order, does nothing when run again, and finishes a run that
was interrupted half-way; after each phase the DR region (a second moto region) holds the same
keys, and a DR copy that fails is reported."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from authapi.key_material import generate_private_key_pem, load_private_key, load_public_keys
from authapi.signing.keys import DataKeys, key_id
from devtools.key_replication import (
    NEXT_SIGNING_KEY_PARAMETER,
    REPLICATED_PARAMETERS,
    STATE_PARAMETER,
    ReplicationError,
    replica_key_arn,
)
from devtools.key_rotation import Rotation, RotationRefused, Waits
from devtools.rotate_signing_key import main, template_waits, waits
from tests.support.aws import (
    DATA_KEYS_PARAMETER,
    KMS_KEY_ARN,
    NEXT_PUBLIC_KEY_PARAMETER,
    PREFIX,
    RETIRED_KEYS_PARAMETER,
    SIGNING_KEY_PARAMETER,
    put_keys,
    put_kms_key_arn,
)
from tests.support.clock import ManualClock

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

pytestmark = pytest.mark.unit

WAITS = Waits(publish_to_promote=timedelta(seconds=100), promote_to_retire=timedelta(seconds=50))


@pytest.fixture
def first_pem(ssm: SSMClient) -> str:
    """The environment as infra/bootstrap-signing-key.sh leaves it (no next key: the old layout)."""
    pem = generate_private_key_pem()
    put_keys(ssm, pem)
    put_kms_key_arn(ssm)
    return pem


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def rotation(ssm: SSMClient, first_pem: str, clock: ManualClock) -> Rotation:
    return Rotation(ssm, prefix=PREFIX, waits=WAITS, clock=clock, key_bits=2048)


def _value(ssm: SSMClient, name: str) -> str:
    return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]


def _values(ssm: SSMClient) -> dict[str, str]:
    parameters = ssm.get_parameters_by_path(Path=PREFIX, Recursive=True, WithDecryption=True)
    return {parameter["Name"]: parameter["Value"] for parameter in parameters["Parameters"]}


def _kid(pem: str) -> str:
    return key_id(load_private_key(pem).public_key())


def _kids(bundle: str) -> list[str]:
    return [] if bundle == "none" else [key_id(key) for key in load_public_keys(bundle)]


def _data_key_ids(ssm: SSMClient) -> list[str]:
    return [key for key, _ in DataKeys.parse(_value(ssm, DATA_KEYS_PARAMETER)).keys]


def test_publish_publishes_a_new_key_that_does_not_sign_yet(
    ssm: SSMClient, rotation: Rotation, first_pem: str
) -> None:
    (first_data_key,) = _data_key_ids(ssm)

    rotation.publish()

    pending = _value(ssm, PREFIX + NEXT_SIGNING_KEY_PARAMETER)
    assert _kids(_value(ssm, NEXT_PUBLIC_KEY_PARAMETER)) == [_kid(pending)] != [_kid(first_pem)]
    assert _value(ssm, SIGNING_KEY_PARAMETER) == first_pem
    # the new data key is known, not current
    assert _data_key_ids(ssm)[0] == first_data_key
    assert len(_data_key_ids(ssm)) == 2
    secrets = ssm.describe_parameters()["Parameters"]
    pending_parameter = next(p for p in secrets if p["Name"].endswith(NEXT_SIGNING_KEY_PARAMETER))
    assert (pending_parameter["Type"], pending_parameter["KeyId"]) == ("SecureString", KMS_KEY_ARN)


def test_each_phase_refuses_before_its_safe_time_and_runs_at_it(
    ssm: SSMClient, rotation: Rotation, clock: ManualClock, first_pem: str
) -> None:
    rotation.publish()
    new_kid = _kid(_value(ssm, PREFIX + NEXT_SIGNING_KEY_PARAMETER))
    new_data_key = _data_key_ids(ssm)[1]

    clock.advance(99)
    before = _values(ssm)
    with pytest.raises(RotationRefused, match="too early to promote"):
        rotation.promote()
    assert _values(ssm) == before

    clock.advance(1)
    rotation.promote()

    assert _kid(_value(ssm, SIGNING_KEY_PARAMETER)) == new_kid
    assert _kids(_value(ssm, RETIRED_KEYS_PARAMETER)) == [_kid(first_pem)]
    assert _value(ssm, NEXT_PUBLIC_KEY_PARAMETER) == "none"
    assert PREFIX + NEXT_SIGNING_KEY_PARAMETER not in _values(ssm)  # no private key left over
    assert _data_key_ids(ssm)[0] == new_data_key

    clock.advance(49)
    before = _values(ssm)
    with pytest.raises(RotationRefused, match="too early to retire"):
        rotation.retire()
    with pytest.raises(RotationRefused, match="too early to publish"):
        rotation.publish()  # a new rotation waits for this one's retire
    assert _values(ssm) == before

    clock.advance(1)
    rotation.retire()

    assert _value(ssm, RETIRED_KEYS_PARAMETER) == "none"
    assert _kid(_value(ssm, SIGNING_KEY_PARAMETER)) == new_kid
    assert len(_data_key_ids(ssm)) == 2  # old data keys stay: they read what they protected


def test_every_phase_run_again_changes_nothing(
    ssm: SSMClient, rotation: Rotation, clock: ManualClock
) -> None:
    rotation.publish()
    published = _values(ssm)
    clock.advance(10)
    assert "already published" in rotation.publish()
    assert _values(ssm) == published  # same key, same data key, the same safe time

    clock.advance(100)
    rotation.promote()
    promoted = _values(ssm)
    assert "already signing" in rotation.promote()
    assert _values(ssm) == promoted

    clock.advance(50)
    rotation.retire()
    retired = _values(ssm)
    assert "already retired" in rotation.retire()
    assert "already signing" in rotation.promote()
    assert _values(ssm) == retired


def test_phases_out_of_order_are_refused(ssm: SSMClient, rotation: Rotation) -> None:
    with pytest.raises(RotationRefused, match="publish first"):
        rotation.promote()
    with pytest.raises(RotationRefused, match="promote first"):
        rotation.retire()
    rotation.publish()
    with pytest.raises(RotationRefused, match="promote first"):
        rotation.retire()


def test_a_second_rotation_retires_only_what_the_first_left(
    ssm: SSMClient, rotation: Rotation, clock: ManualClock, first_pem: str
) -> None:
    for _ in range(2):
        rotation.publish()
        second = _value(ssm, PREFIX + NEXT_SIGNING_KEY_PARAMETER)
        clock.advance(100)
        rotation.promote()
        clock.advance(50)
        rotation.retire()

    assert _value(ssm, SIGNING_KEY_PARAMETER) == second
    assert _value(ssm, RETIRED_KEYS_PARAMETER) == "none"
    assert len(_data_key_ids(ssm)) == 3


class _FailingPut:
    """An SSM client whose put of one parameter fails once: a run cut off half-way."""

    def __init__(self, ssm: SSMClient, name: str) -> None:
        self._ssm = ssm
        self._name = name
        self.exceptions = ssm.exceptions

    def put_parameter(self, **arguments: Any) -> Any:
        if arguments["Name"] == self._name:
            self._name = ""
            raise ConnectionError("cut off")
        return self._ssm.put_parameter(**arguments)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ssm, name)


def _interrupted(ssm: SSMClient, clock: ManualClock, name: str) -> Rotation:
    client: Any = _FailingPut(ssm, name)
    return Rotation(client, prefix=PREFIX, waits=WAITS, clock=clock, key_bits=2048)


def test_an_interrupted_publish_run_again_publishes_the_same_keys(
    ssm: SSMClient, rotation: Rotation, clock: ManualClock
) -> None:
    with pytest.raises(ConnectionError):
        _interrupted(ssm, clock, NEXT_PUBLIC_KEY_PARAMETER).publish()
    pending = _value(ssm, PREFIX + NEXT_SIGNING_KEY_PARAMETER)
    data_keys = _data_key_ids(ssm)

    rotation.publish()

    assert _value(ssm, PREFIX + NEXT_SIGNING_KEY_PARAMETER) == pending
    assert _kids(_value(ssm, NEXT_PUBLIC_KEY_PARAMETER)) == [_kid(pending)]
    assert _data_key_ids(ssm) == data_keys  # no second data key appended


def test_an_interrupted_promote_run_again_finishes_it(
    ssm: SSMClient, rotation: Rotation, clock: ManualClock, first_pem: str
) -> None:
    rotation.publish()
    pending = _value(ssm, PREFIX + NEXT_SIGNING_KEY_PARAMETER)
    clock.advance(100)
    with pytest.raises(ConnectionError):  # cut off after the swap
        _interrupted(ssm, clock, NEXT_PUBLIC_KEY_PARAMETER).promote()
    assert _value(ssm, SIGNING_KEY_PARAMETER) == pending

    rotation.promote()

    assert _kids(_value(ssm, RETIRED_KEYS_PARAMETER)) == [_kid(first_pem)]
    assert _value(ssm, NEXT_PUBLIC_KEY_PARAMETER) == "none"
    state = json.loads(_value(ssm, PREFIX + STATE_PARAMETER))
    assert (state["phase"], state["retiring"]) == ("promoted", [_kid(first_pem)])


def test_the_command_refuses_with_status_1_and_never_prints_a_key(
    ssm: SSMClient, first_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dev", "promote"], ssm=ssm) == 1
    assert "refused: nothing is published" in capsys.readouterr().err

    assert main(["dev", "publish"], ssm=ssm) == 0
    assert main(["dev", "promote"], ssm=ssm) == 1

    output = capsys.readouterr()
    assert "too early to promote" in output.err
    assert "PRIVATE KEY" not in output.out + output.err
    pending = _value(ssm, PREFIX + NEXT_SIGNING_KEY_PARAMETER)
    assert load_private_key(pending).key_size == 3072


def test_the_waits_follow_the_caches_that_hold_keys() -> None:
    production = template_waits()
    # the template's settings (cache 300 s, stale 3600 s, access tokens 1800 s): the two-hour
    # floor wins over 300 s + API Gateway's hour; retire after the last old token has expired
    assert production == Waits(timedelta(hours=2), timedelta(seconds=3600 + 1800 + 5))
    scaled = waits(
        access_token_ttl_seconds=60,
        ssm_cache_seconds=10,
        ssm_max_stale_seconds=0,
        verifier_cache_seconds=20,
        publish_minimum_seconds=5,
    )
    # a cache longer than the stale limit keeps the old key signing longer
    assert scaled == Waits(timedelta(seconds=30), timedelta(seconds=10 + 60 + 5))


# ---- the DR region's copy (issue 16: Parameter Store has no cross-region replication) --------

DR_REGION = "us-west-2"


@pytest.fixture
def multi_region_key(ssm: SSMClient) -> tuple[str, str]:
    """The data stack's multi-Region key and its replica (infra/dr-keys.yaml), in moto's KMS."""
    import boto3

    kms = boto3.client("kms", region_name=ssm.meta.region_name)
    primary = kms.create_key(MultiRegion=True)["KeyMetadata"]
    replica = kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=DR_REGION)
    ssm.put_parameter(
        Name=f"{PREFIX}kms/key-arn", Value=primary["Arn"], Type="String", Overwrite=True
    )
    return primary["Arn"], replica["ReplicaKeyMetadata"]["Arn"]


@pytest.fixture
def dr_ssm(ssm: SSMClient) -> SSMClient:
    import boto3

    return boto3.client("ssm", region_name=DR_REGION)


def _key_parameters(ssm: SSMClient) -> dict[str, tuple[str, str]]:
    """(type, value) of every parameter the bootstrap and the rotation write."""
    names = [PREFIX + name for name in REPLICATED_PARAMETERS]
    found = ssm.get_parameters(Names=names, WithDecryption=True)["Parameters"]
    return {p["Name"]: (p["Type"], p["Value"]) for p in found}


def test_after_each_phase_the_dr_region_holds_the_same_keys_under_the_replica_key(
    ssm: SSMClient,
    dr_ssm: SSMClient,
    first_pem: str,
    multi_region_key: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, replica_arn = multi_region_key
    clock = ManualClock()
    monkeypatch.setattr("devtools.rotate_signing_key.SystemClock", lambda: clock)
    monkeypatch.setattr("devtools.rotate_signing_key.template_waits", lambda: WAITS)
    ssm.put_parameter(Name=f"{PREFIX}dr/region", Value=DR_REGION, Type="String")

    for phase, wait in (("publish", 0), ("promote", 100), ("retire", 50)):
        clock.advance(wait)
        assert main(["dev", phase], ssm=ssm, dr_ssm=dr_ssm) == 0, capsys.readouterr().err
        primary = _key_parameters(ssm)
        assert _key_parameters(dr_ssm) == primary, phase
        # the pending private key exists between publish and promote, in both regions or neither
        assert (PREFIX + NEXT_SIGNING_KEY_PARAMETER in primary) is (phase == "publish")
        assert f"DR region {DR_REGION}" in capsys.readouterr().out

    copies = dr_ssm.describe_parameters()["Parameters"]
    secure = {p["Name"]: p["KeyId"] for p in copies if p["Type"] == "SecureString"}
    assert secure == dict.fromkeys([SIGNING_KEY_PARAMETER, DATA_KEYS_PARAMETER], replica_arn)
    # the DR copy is a working key ring: the app in the DR region signs with the new key
    assert _kid(_value(dr_ssm, SIGNING_KEY_PARAMETER)) != _kid(first_pem)


def test_a_failed_dr_copy_is_loud_leaves_the_primary_done_and_a_rerun_catches_up(
    ssm: SSMClient,
    dr_ssm: SSMClient,
    first_pem: str,
    multi_region_key: tuple[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    failing: Any = _FailingPut(dr_ssm, SIGNING_KEY_PARAMETER)
    # an AWS error as the DR region answers it when the replica key is missing or denied
    from botocore.exceptions import ClientError

    def refuse(**arguments: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "AccessDeniedException", "Message": "kms:Encrypt"}}, "PutParameter"
        )

    failing.put_parameter = refuse

    status = main(["dev", "publish", "--dr-region", DR_REGION], ssm=ssm, dr_ssm=failing)

    assert status == 2
    err = capsys.readouterr().err
    assert "DR COPY FAILED: publish is done" in err
    assert DR_REGION in err
    assert "make rotate-signing-key ENV=dev PHASE=publish" in err
    assert "PRIVATE KEY" not in err
    published = _key_parameters(ssm)
    assert json.loads(published[PREFIX + STATE_PARAMETER][1])["phase"] == "published"
    assert _key_parameters(dr_ssm) != published

    # the same phase again: already done in the primary, so it only copies
    assert main(["dev", "publish", "--dr-region", DR_REGION], ssm=ssm, dr_ssm=dr_ssm) == 0
    assert "already published" in capsys.readouterr().out
    assert _key_parameters(dr_ssm) == _key_parameters(ssm) == published


def test_replicate_only_copies_and_refuses_a_single_region_key(
    ssm: SSMClient, dr_ssm: SSMClient, first_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # put_kms_key_arn's key is a single-Region one: no replica can exist
    assert main(["dev", "replicate", "--dr-region", DR_REGION], ssm=ssm, dr_ssm=dr_ssm) == 2
    assert "not a multi-Region KMS key" in capsys.readouterr().err
    assert _key_parameters(dr_ssm) == {}
    # a stale copy of a parameter the primary no longer holds is deleted
    dr_ssm.put_parameter(Name=PREFIX + NEXT_SIGNING_KEY_PARAMETER, Value="x", Type="String")
    primary_arn = "arn:aws:kms:us-east-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef"
    ssm.put_parameter(Name=f"{PREFIX}kms/key-arn", Value=primary_arn, Type="String", Overwrite=True)
    before = _key_parameters(ssm)

    assert main(["dev", "replicate", "--dr-region", DR_REGION], ssm=ssm, dr_ssm=dr_ssm) == 0

    assert _key_parameters(ssm) == before  # nothing rotated
    assert _key_parameters(dr_ssm) == before


def test_without_a_dr_region_the_command_says_the_keys_are_in_one_region(
    ssm: SSMClient, first_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ssm.put_parameter(Name=f"{PREFIX}dr/region", Value="none", Type="String")
    assert main(["dev", "replicate"], ssm=ssm) == 0
    assert "in the primary region only" in capsys.readouterr().err


def test_the_replica_key_is_the_same_multi_region_key_in_the_dr_region(
    multi_region_key: tuple[str, str],
) -> None:
    primary, replica = multi_region_key
    assert replica_key_arn(primary, DR_REGION) == replica
    with pytest.raises(ReplicationError, match="not a multi-Region"):
        replica_key_arn(KMS_KEY_ARN, DR_REGION)


def test_an_unreadable_dr_region_setting_is_a_dr_failure_after_the_phase(
    ssm: SSMClient, first_pem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from botocore.exceptions import ClientError

    primary: Any = _FailingPut(ssm, "")
    real_get = ssm.get_parameter

    def get_parameter(**arguments: Any) -> Any:
        if arguments["Name"].endswith("dr/region"):
            raise ClientError({"Error": {"Code": "AccessDeniedException"}}, "GetParameter")
        return real_get(**arguments)

    primary.get_parameter = get_parameter

    assert main(["dev", "publish"], ssm=primary) == 2
    assert "DR COPY FAILED: publish is done" in capsys.readouterr().err
    assert PREFIX + NEXT_SIGNING_KEY_PARAMETER in _values(ssm)  # the primary's phase happened
