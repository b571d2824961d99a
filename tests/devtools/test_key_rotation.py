"""devtools.key_rotation and the rotate-signing-key command, against moto's SSM: each phase
refuses before its time and out of order, does nothing when run again, and finishes a run that
was interrupted half-way."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest

from authapi.key_material import generate_private_key_pem, load_private_key, load_public_keys
from authapi.signing.keys import DataKeys, key_id
from devtools.key_rotation import (
    NEXT_SIGNING_KEY_PARAMETER,
    STATE_PARAMETER,
    Rotation,
    RotationRefused,
    Waits,
)
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
