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


def cfn_lint_template(path: Path = TEMPLATE) -> dict[str, Any]:
    template: dict[str, Any] = cfn_yaml.load(str(path))
    return template


def ssm_stand_ins(template: dict[str, Any]) -> dict[str, str]:
    """A recognisable value for every parameter read from SSM at deploy time."""
    return {
        name: f"<{name}>"
        for name, parameter in template["Parameters"].items()
        if str(parameter["Type"]).startswith("AWS::SSM::Parameter::Value")
    }


def declared_defaults(template: dict[str, Any]) -> dict[str, str]:
    return {
        name: str(parameter["Default"])
        for name, parameter in template["Parameters"].items()
        if "Default" in parameter
        and not str(parameter["Type"]).startswith("AWS::SSM::Parameter::Value")
    }


TEMPLATE_DATA = cfn_lint_template()
# what a variable names of the stack's own resources (issue 13: the mail queue and its SES set)
RESOURCE_STAND_INS = {
    "MailQueue": "https://sqs.example/mail",
    "MailConfigurationSet": "authapi-x",
    # issue 17: the audit trail's bus
    "AuditEventBus": "authapi-x-audit",
}
# every SSM-read parameter, and other values than the defaults for a few others
STAND_INS = {
    **ssm_stand_ins(TEMPLATE_DATA),
    **RESOURCE_STAND_INS,
    "Env": "local",
    "Issuer": "issuer-x",
    "Audience": "audience-x",
    "LogLevel": "DEBUG",
    "AWS::Region": "eu-west-3",
    "CustomDomains": "auth.example",
}


def functions(template: dict[str, Any]) -> list[str]:
    return [
        name
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    ]


def variables_of(function: str, template: dict[str, Any] = TEMPLATE_DATA) -> dict[str, Any]:
    own = template["Resources"][function]["Properties"].get("Environment", {})
    return {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **own.get("Variables", {}),
    }


def expected(value: Any, given: dict[str, str] = STAND_INS) -> str:
    """The value as the parameters make it: literals as written, Ref and Sub filled in."""
    values = {**declared_defaults(TEMPLATE_DATA), **given}
    if isinstance(value, dict):
        ((function, argument),) = value.items()
        if function == "Ref":
            return values[str(argument)]
        if function == "Fn::Sub" and isinstance(argument, str):
            return re.sub(r"\$\{([^}]+)\}", lambda match: values[match.group(1)], argument)
        if function == "Fn::If":
            name, if_true, if_false = argument
            return expected(if_true if _holds(name, values) else if_false, given)
        raise AssertionError(f"teach this test {function}")
    return str(value).lower() if isinstance(value, bool) else str(value)


def _holds(condition: str, values: dict[str, str]) -> bool:
    """A condition of the form `!Not [!Equals [!Ref X, ""]]`, the only kind variables use."""
    ((_, (equals,)),) = TEMPLATE_DATA["Conditions"][condition].items()
    ((_, (left, right)),) = equals.items()
    return values[left["Ref"]] != right


FUNCTIONS = [
    "ApiFunction",
    "MigrateFunction",
    "MaintenanceFunction",
    "WhoAmIFunction",
    "MailerFunction",
]


def test_every_function_of_the_template_has_a_derived_environment() -> None:
    assert set(functions(TEMPLATE_DATA)) == set(FUNCTIONS)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_derived_environment_is_the_templates_variable_for_variable(function: str) -> None:
    variables = variables_of(function)
    derived = lambda_environment(function, parameters=STAND_INS)
    assert list(derived) == list(variables)
    assert derived == {name: expected(value) for name, value in variables.items()}


def test_template_parameters_default_when_no_stand_in_is_given() -> None:
    derived = lambda_environment(parameters={**ssm_stand_ins(TEMPLATE_DATA), **RESOURCE_STAND_INS})
    assert derived["AUTHAPI_SSM_PARAMETER_PREFIX"] == "/authapi/dev/"
    assert derived["AUTHAPI_JWT_ISSUER"] == "authapi-dev"
    assert derived["AUTHAPI_LOG_LEVEL"] == "INFO"
    assert derived["AUTHAPI_DATABASE_URL"].endswith("@<DbProxyEndpoint>:5432/<DbName>")


def test_an_ssm_parameter_needs_a_stand_in() -> None:
    with pytest.raises(TemplateValueError, match=r"ApiFunction AUTHAPI_\w+: \w+ is read from SSM"):
        lambda_environment()


def test_overrides_replace_a_variable_without_resolving_it() -> None:
    without_database = {
        name: value
        for name, value in STAND_INS.items()
        if name not in ("DbProxyEndpoint", "DbName")
    }
    derived = lambda_environment(
        parameters=without_database, overrides={"AUTHAPI_DATABASE_URL": "postgresql://local/x"}
    )
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
    without_key = {name: value for name, value in STAND_INS.items() if name != "KmsKeyArn"}
    with pytest.raises(TemplateValueError, match="AUTHAPI_GAINED_SSM: KmsKeyArn is read from SSM"):
        lambda_environment(template=copy, parameters=without_key)
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


# ---- the dev tools that run the handler with the template's environment ----------------------

LOCAL_URL = "postgresql+psycopg://postgres@/authapi?host=/run/pg"
# what each tool may say differently from the template, and why: the stand-ins are not AWS
LOCAL_DIFFERENCES = {
    "AUTHAPI_DATABASE_URL": LOCAL_URL,  # the embedded server, not RDS Proxy
    "AUTHAPI_DB_AUTH": "password",  # no IAM here
    "AUTHAPI_DB_REQUIRE_TLS": "false",  # nor TLS
}


def template_values(function: str = "ApiFunction") -> dict[str, str]:
    """The template's environment, read by cfn-lint, on the local parameters."""
    from devtools.local_stack import LOCAL_PARAMETERS

    return {
        name: LOCAL_DIFFERENCES.get(name)
        or expected(value, {**ssm_stand_ins(TEMPLATE_DATA), **LOCAL_PARAMETERS})
        for name, value in variables_of(function).items()
    }


def agrees_with_the_template(environment: dict[str, str], function: str = "ApiFunction") -> None:
    wanted = template_values(function)
    assert {name: environment.get(name) for name in wanted} == wanted


@pytest.mark.parametrize("function", FUNCTIONS)
def test_the_local_stand_ins_keep_every_template_variable(function: str) -> None:
    from devtools.local_stack import SSM_PREFIX, local_lambda_environment

    environment = local_lambda_environment(LOCAL_URL, function)
    agrees_with_the_template(environment, function)
    assert environment["AUTHAPI_SSM_PARAMETER_PREFIX"] == SSM_PREFIX  # where the key is stored


def test_the_smoke_test_runs_the_artifact_with_the_templates_environment() -> None:
    from devtools.smoke import child_environment

    environment = child_environment(LOCAL_URL, "http://ssm", Path("/build"), [Path("/f")])
    agrees_with_the_template(environment)
    assert environment["AUTHAPI_ENVIRONMENT"] == "production"


def test_the_bench_probes_run_with_the_templates_environment() -> None:
    from devtools.bench.__main__ import Database, probe_environment

    database = Database(
        url=LOCAL_URL, upstream="/run/pg/.s.PGSQL.5432", server_version="17", embedded=True
    )
    environment = probe_environment(database, "http://ssm", "token")
    agrees_with_the_template(environment)
    assert environment["AUTHAPI_ENVIRONMENT"] == "production"
