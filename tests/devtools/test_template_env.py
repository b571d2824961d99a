"""devtools.template_env: the Lambda environment derived from template.yaml, checked against it.

The template is read a second way here, by cfn-lint's decoder, so a variable the derivation
misses (or a value it resolves differently) fails this test, not a deployment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped, unused-ignore]

from devtools.template_env import (
    TEMPLATE,
    TemplateValueError,
    lambda_environment,
    settings_values,
)

pytestmark = pytest.mark.unit

# every SSM-typed parameter the environment reads, plus one value for each other parameter
STAND_INS = {
    "Env": "local",
    "Issuer": "issuer-x",
    "Audience": "audience-x",
    "LogLevel": "DEBUG",
    "DbUser": "user-x",
    "DbProxyEndpoint": "proxy-x",
    "DbName": "db-x",
}


def cfn_lint_template(path: Path = TEMPLATE) -> dict[str, Any]:
    template: dict[str, Any] = cfn_yaml.load(str(path))
    return template


def functions(template: dict[str, Any]) -> list[str]:
    return [
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]


def expected(value: Any) -> str:
    """The value as the stand-ins make it: literals as written, Ref and Sub filled in."""
    if isinstance(value, dict):
        ((function, argument),) = value.items()
        if function == "Ref":
            return STAND_INS[str(argument)]
        if function == "Fn::Sub" and isinstance(argument, str):
            return re.sub(r"\$\{([^}]+)\}", lambda match: STAND_INS[match.group(1)], argument)
        raise AssertionError(f"teach this test {function}")
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_every_function_of_the_template_has_a_derived_environment() -> None:
    assert set(functions(cfn_lint_template())) == {"ApiFunction", "MigrateFunction"}


@pytest.mark.parametrize("function", ["ApiFunction", "MigrateFunction"])
def test_the_derived_environment_is_the_templates_variable_for_variable(function: str) -> None:
    template = cfn_lint_template()
    variables = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **template["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {}),
    }
    derived = lambda_environment(function, parameters=STAND_INS)
    assert list(derived) == list(variables)
    assert derived == {name: expected(value) for name, value in variables.items()}


def test_template_parameters_default_when_no_stand_in_is_given() -> None:
    derived = lambda_environment(parameters={"DbUser": "u", "DbProxyEndpoint": "h", "DbName": "d"})
    assert derived["AUTHAPI_SSM_PARAMETER_PREFIX"] == "/authapi/dev/"
    assert derived["AUTHAPI_JWT_ISSUER"] == "authapi-dev"
    assert derived["AUTHAPI_LOG_LEVEL"] == "INFO"
    assert derived["AUTHAPI_DATABASE_URL"] == "postgresql://u@h:5432/d"


def test_an_ssm_parameter_needs_a_stand_in() -> None:
    with pytest.raises(TemplateValueError, match="AUTHAPI_DATABASE_URL: DbUser is read from SSM"):
        lambda_environment()


def test_overrides_replace_a_variable_without_resolving_it() -> None:
    derived = lambda_environment(overrides={"AUTHAPI_DATABASE_URL": "postgresql://local/x"})
    assert derived["AUTHAPI_DATABASE_URL"] == "postgresql://local/x"


def test_an_override_of_a_variable_the_template_does_not_set_fails() -> None:
    with pytest.raises(TemplateValueError, match="sets no AUTHAPI_NO_SUCH_THING"):
        lambda_environment(parameters=STAND_INS, overrides={"AUTHAPI_NO_SUCH_THING": "1"})


GAINED = """\
        AUTHAPI_GAINED_LITERAL: "42"
        AUTHAPI_GAINED_SSM: !Ref KmsKeyArn
        AUTHAPI_GAINED_IF: !If [HasAlarmEmail, !Sub "mail:${AlarmEmail}", none]
"""


def with_gained_variables(tmp_path: Path) -> Path:
    text = TEMPLATE.read_text()
    anchor = "        POWERTOOLS_SERVICE_NAME: authapi\n"
    assert anchor in text
    copy = tmp_path / "template.yaml"
    copy.write_text(text.replace(anchor, GAINED + anchor, 1))
    return copy


def test_a_variable_the_template_gains_is_carried_or_named(tmp_path: Path) -> None:
    copy = with_gained_variables(tmp_path)
    with pytest.raises(TemplateValueError, match="AUTHAPI_GAINED_SSM: KmsKeyArn is read from SSM"):
        lambda_environment(template=copy, parameters=STAND_INS)
    derived = lambda_environment(template=copy, parameters={**STAND_INS, "KmsKeyArn": "arn:k"})
    assert derived["AUTHAPI_GAINED_LITERAL"] == "42"
    assert derived["AUTHAPI_GAINED_SSM"] == "arn:k"
    assert derived["AUTHAPI_GAINED_IF"] == "none"  # AlarmEmail defaults to "": no subscription
    with_email = {**STAND_INS, "KmsKeyArn": "arn:k", "AlarmEmail": "ops@example.com"}
    derived = lambda_environment(template=copy, parameters=with_email)
    assert derived["AUTHAPI_GAINED_IF"] == "mail:ops@example.com"
    forced = lambda_environment(
        template=copy, parameters=with_email, conditions={"HasAlarmEmail": False}
    )
    assert forced["AUTHAPI_GAINED_IF"] == "none"


def test_settings_values_are_the_settings_field_names() -> None:
    values = settings_values(lambda_environment(parameters=STAND_INS))
    assert values["db_pool_size"] == "1"
    assert values["ssm_parameter_prefix"] == "/authapi/local/"
    assert not any(name.startswith("powertools") for name in values)
