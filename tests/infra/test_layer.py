"""layers/requirements.txt is pyproject's runtime dependencies, less what the runtime provides."""

from __future__ import annotations

import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.infra.cfn import ROOT

pytestmark = pytest.mark.infra

PROVIDED_BY_THE_RUNTIME = {"boto3"}


def _normalized(lines: list[str]) -> set[tuple[str, frozenset[str], str]]:
    requirements = [Requirement(line) for line in lines]
    return {
        (
            canonicalize_name(requirement.name),
            frozenset(canonicalize_name(extra) for extra in requirement.extras),
            str(requirement.specifier),
        )
        for requirement in requirements
    }


def _layer_requirements() -> list[str]:
    text = (ROOT / "layers" / "requirements.txt").read_text()
    return [
        line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()
    ]


def test_layer_requirements_equal_the_runtime_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    expected = {
        requirement
        for requirement in _normalized(project["dependencies"])
        if requirement[0] not in PROVIDED_BY_THE_RUNTIME
    }
    assert _normalized(_layer_requirements()) == expected


def test_layer_leaves_boto3_to_the_runtime() -> None:
    names = {name for name, _, _ in _normalized(_layer_requirements())}
    assert not names & {"boto3", "botocore"}
