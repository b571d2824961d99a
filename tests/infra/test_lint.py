"""The templates pass cfn-lint and SAM's own validation, offline."""

from __future__ import annotations

import os
import subprocess

import pytest
from cfnlint.api import lint_file

from tests.infra.cfn import ROOT

pytestmark = pytest.mark.infra

SAM = ROOT / ".venv-sam" / "bin" / "sam"


@pytest.mark.parametrize("template", ["template.yaml", "infra/data.yaml"])
def test_cfn_lint_reports_nothing(template: str) -> None:
    matches = lint_file(ROOT / template)
    assert [str(match) for match in matches] == []


def test_sam_validate_lint_passes() -> None:
    # a failure, not a skip: `make test` installs the SAM venv first
    assert SAM.is_file(), f"{SAM} is missing: run `make sam-install`"
    result = subprocess.run(
        [str(SAM), "validate", "--lint", "--template-file", "template.yaml"],
        cwd=ROOT,
        env={**os.environ, "SAM_CLI_TELEMETRY": "0"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
