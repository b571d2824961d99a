"""The package's import contracts (pyproject.toml, `make lint`) hold, and catch what they promise.

The check itself runs in `make lint`; these tests prove it can fail: a cycle or an upward import
planted in a copy of the package breaks it, including one hidden inside a function.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LAYERS = "authapi is layered"
ACYCLIC = "no import cycles"

pytestmark = pytest.mark.unit


def _copy_of_the_package(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "functions" / "authapi",
        tmp_path / "functions" / "authapi",
        ignore=shutil.ignore_patterns("__pycache__", "*.txt"),
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path / "functions" / "authapi"


def _lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first: the copy shadows the editable install of the real package
    environment = {**os.environ, "PYTHONPATH": str(project / "functions")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _plant(module: Path, function_body: str) -> None:
    with module.open("a") as file:
        file.write(f"\n\ndef _planted() -> None:\n    {function_body}  # noqa\n")


def _broken(result: subprocess.CompletedProcess[str]) -> set[str]:
    """The contracts the report marks BROKEN (each contract's summary line ends KEPT or BROKEN)."""
    verdicts = {
        name: line.rsplit(" ", 1)[-1]
        for line in result.stdout.splitlines()
        for name in (LAYERS, ACYCLIC)
        if line.startswith(name) and line.endswith(("KEPT", "BROKEN"))
    }
    assert set(verdicts) == {LAYERS, ACYCLIC}, result.stdout + result.stderr
    return {name for name, verdict in verdicts.items() if verdict == "BROKEN"}


def test_the_package_as_committed_keeps_both_contracts(tmp_path: Path) -> None:
    result = _lint_imports(_copy_of_the_package(tmp_path).parents[1])
    assert result.returncode == 0, result.stdout + result.stderr
    assert _broken(result) == set()


def test_an_upward_import_inside_a_function_breaks_the_layers(tmp_path: Path) -> None:
    package = _copy_of_the_package(tmp_path)
    # the lowest layer reaching up to settings: also a cycle, since config imports key_material
    _plant(package / "key_material.py", "from authapi import config")
    result = _lint_imports(package.parents[1])
    assert result.returncode != 0
    assert _broken(result) == {LAYERS, ACYCLIC}
    assert "authapi.key_material -> authapi.config" in result.stdout


def test_a_cycle_inside_one_layer_breaks_the_acyclic_contract(tmp_path: Path) -> None:
    package = _copy_of_the_package(tmp_path)
    # the service imports tokens; tokens importing the service closes a loop within auth
    _plant(package / "auth" / "tokens.py", "from authapi.auth import service")
    result = _lint_imports(package.parents[1])
    assert result.returncode != 0
    assert _broken(result) == {ACYCLIC}
