"""samconfig.toml: what `sam build` and `sam deploy --config-env dev|prod` will do."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from tests.infra.cfn import ROOT, Template, load_template

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def samconfig() -> dict[str, Any]:
    return tomllib.loads((ROOT / "samconfig.toml").read_text())


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template("template.yaml")


def _overrides(samconfig: dict[str, Any], env: str) -> dict[str, str]:
    lines = samconfig[env]["deploy"]["parameters"]["parameter_overrides"]
    return dict(line.split("=", 1) for line in lines)


def test_format_version_and_default_sections(samconfig: dict[str, Any]) -> None:
    assert samconfig["version"] == 0.1  # SAM crashes on a missing or other version
    assert samconfig["default"]["build"]["parameters"]["cached"] is True
    assert samconfig["default"]["validate"]["parameters"]["lint"] is True
    assert "deploy" not in samconfig["default"], "a deploy must name its environment"


@pytest.mark.parametrize(("env", "confirm"), [("dev", False), ("prod", True)])
def test_deploy_sections(samconfig: dict[str, Any], env: str, confirm: bool) -> None:
    deploy = samconfig[env]["deploy"]["parameters"]
    assert deploy["stack_name"] == f"authapi-{env}"
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["resolve_s3"] is True
    assert deploy["confirm_changeset"] is confirm


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_overrides_name_declared_parameters_and_the_right_env(
    samconfig: dict[str, Any], template: Template, env: str
) -> None:
    overrides = _overrides(samconfig, env)
    assert set(overrides) <= set(template["Parameters"])
    assert overrides["Env"] == env
    for name, value in overrides.items():
        pattern = template["Parameters"][name].get("AllowedPattern")
        assert pattern is None or re.fullmatch(pattern, value), (name, value)


def test_prod_reads_only_prod_parameters(samconfig: dict[str, Any], template: Template) -> None:
    # a default left in place would wire prod's functions to dev's network and database
    overrides = _overrides(samconfig, "prod")
    for name, parameter in template["Parameters"].items():
        if parameter["Type"].startswith("AWS::SSM::Parameter::Value<"):
            assert overrides.get(name) == parameter["Default"].replace(
                "/authapi/dev/", "/authapi/prod/", 1
            )


def test_x86_build_goes_to_its_own_directory(samconfig: dict[str, Any]) -> None:
    build = samconfig["x86"]["build"]["parameters"]
    assert build["template_file"] == "template.x86_64.yaml"
    # build.toml lands in the build dir's parent: it needs one of its own
    assert build["build_dir"] == ".aws-sam-x86_64/build"
    assert build["cached"] is False  # cached builds share .aws-sam/deps and evict each other
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert {"template.x86_64.yaml", ".aws-sam-x86_64/"} <= set(ignored)
