"""Issue 16, safe delivery, in what CloudFormation receives for each samconfig environment: the
CodeDeploy application and group (canary in prod, all at once in dev), the PreTraffic hook and
its permissions, the new version's alarms, reserved concurrency and its rule."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.infra.cfn import load_template
from tests.support.sam import (
    NO_VALUE,
    Template,
    app_environments,
    deploy_parameters,
    parameter_values,
    resolve,
    transformed_template,
)

pytestmark = pytest.mark.infra

NEW_VERSION_ALARMS = ["NewVersionErrorsAlarm", "NewVersion5xxAlarm", "NewVersionLatencyP99Alarm"]
EXPECTED_DEPLOYMENT = {"dev": "AllAtOnce", "prod": "Canary10Percent5Minutes"}


@pytest.fixture(scope="module", params=app_environments())
def deployed(request: pytest.FixtureRequest) -> tuple[str, Template, dict[str, str]]:
    """(environment, the transformed template, every parameter's value)."""
    parameters = deploy_parameters(request.param)
    template = transformed_template(parameters)
    return request.param, template, parameter_values(template, parameters)


def _of_type(template: Template, kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_each_environment_shifts_traffic_its_own_way_and_rolls_back_on_alarm(
    deployed: tuple[str, Template, dict[str, str]],
) -> None:
    environment, template, _ = deployed
    (application,) = _of_type(template, "AWS::CodeDeploy::Application").values()
    assert application["Properties"]["ComputePlatform"] == "Lambda"
    ((group_name, group),) = _of_type(template, "AWS::CodeDeploy::DeploymentGroup").items()
    properties = group["Properties"]
    assert properties["DeploymentConfigName"] == {
        "Fn::Sub": [
            "CodeDeployDefault.Lambda${ConfigName}",
            {"ConfigName": EXPECTED_DEPLOYMENT[environment]},
        ]
    }
    assert properties["AlarmConfiguration"] == {
        "Enabled": True,
        "Alarms": [{"Name": {"Ref": name}} for name in NEW_VERSION_ALARMS],
    }
    rollback = properties["AutoRollbackConfiguration"]
    assert rollback["Enabled"] is True
    assert {"DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"} <= set(rollback["Events"])
    update = template["Resources"]["ApiFunctionAliaslive"]["UpdatePolicy"]
    assert update["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"] == {"Ref": group_name}


def test_the_new_version_alarms_name_the_version_the_alias_moves_to(
    deployed: tuple[str, Template, dict[str, str]],
) -> None:
    _, template, _ = deployed
    version = template["Resources"]["ApiFunctionAliaslive"]["Properties"]["FunctionVersion"]
    assert version["Fn::GetAtt"][1] == "Version"
    for name in NEW_VERSION_ALARMS:
        alarm = template["Resources"][name]["Properties"]
        queries = alarm.get("Metrics") or [{"MetricStat": {"Metric": alarm}}]
        for query in queries:
            if "MetricStat" in query:
                dimensions = query["MetricStat"]["Metric"]["Dimensions"]
                assert version in [d["Value"] for d in dimensions], name


def test_the_pre_traffic_hook_may_invoke_the_new_version_and_report_to_codedeploy(
    deployed: tuple[str, Template, dict[str, str]],
) -> None:
    _, template, _ = deployed
    update = template["Resources"]["ApiFunctionAliaslive"]["UpdatePolicy"]
    assert update["CodeDeployLambdaAliasUpdate"]["BeforeAllowTrafficHook"] == {
        "Ref": "MigrateFunction"
    }
    role = template["Resources"]["MigrateFunctionRole"]["Properties"]
    statements = {
        statement["Sid"]: statement
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    }
    invoke = statements["SmokeTestTheNewVersion"]
    assert invoke["Action"] == "lambda:InvokeFunction"
    # versions of the API function only (qualified ARNs), never another function
    assert invoke["Resource"] == {
        "Fn::Sub": "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}"
        ":function:authapi-${Env}-api:*"
    }
    group = {
        "Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}"
        ":deploymentgroup:${ServerlessDeploymentApplication}/*"
    }
    # the AppSpec names the new version; the result goes back to the same deployment group
    assert statements["ReadTheDeployment"]["Action"] == "codedeploy:GetDeployment"
    report = statements["ReportTheHookResult"]
    assert report["Action"] == "codedeploy:PutLifecycleEventHookExecutionStatus"
    assert statements["ReadTheDeployment"]["Resource"] == report["Resource"] == group
    # CodeDeploy's own role invokes the hook: SAM grants it only CodeDeployHook_* functions
    hook = template["Resources"]["MigrateFunction"]["Properties"]
    assert hook["FunctionName"]["Fn::Sub"].startswith("CodeDeployHook_")
    # the smoke flow's budget: migrations plus five API calls fit the hook's timeout
    assert hook["Timeout"] >= 300


def test_reserved_concurrency_is_set_only_where_samconfig_gives_it(
    deployed: tuple[str, Template, dict[str, str]],
) -> None:
    environment, template, values = deployed
    properties = template["Resources"]["ApiFunction"]["Properties"]
    reserved = resolve(properties.get("ReservedConcurrentExecutions", NO_VALUE), template, values)
    if environment == "dev":
        assert reserved is NO_VALUE  # new accounts: a quota of 10, none of it reservable
    else:
        assert int(reserved) >= 1


def _rule_holds(rule: dict[str, Any], values: dict[str, str]) -> bool:
    """A template Rule as CloudFormation evaluates it (the functions this template uses)."""

    def evaluate(node: Any) -> Any:
        if isinstance(node, list):
            return [evaluate(item) for item in node]
        if not isinstance(node, dict):
            return node
        ((key, argument),) = node.items()
        if key == "Ref":
            return values[argument]
        if key == "Fn::Equals":
            left, right = evaluate(argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not evaluate(argument[0])
        if key == "Fn::And":
            return all(evaluate(item) for item in argument)
        if key == "Fn::Or":
            return any(evaluate(item) for item in argument)
        if key == "Fn::Contains":
            members, value = evaluate(argument)
            return str(value) in [str(member) for member in members]
        raise AssertionError(f"a rule function this evaluator does not know: {key}")

    if "RuleCondition" in rule and not evaluate(rule["RuleCondition"]):
        return True
    return all(evaluate(assertion["Assert"]) for assertion in rule["Assertions"])


def test_the_rule_refuses_reserved_concurrency_below_provisioned_and_nothing_else() -> None:
    template = load_template("template.yaml")
    rule = template["Rules"]["ReservedConcurrencyCoversProvisioned"]
    parameters = template["Parameters"]
    provisioned = [str(v) for v in parameters["ProvisionedConcurrency"]["AllowedValues"]]
    reserved = [str(v) for v in parameters["ReservedConcurrency"]["AllowedValues"]]
    modes = parameters["ColdStartMode"]["AllowedValues"]
    for mode, p, r in itertools.product(modes, provisioned, reserved):
        values = {"ColdStartMode": mode, "ProvisionedConcurrency": p, "ReservedConcurrency": r}
        expected = mode != "provisioned" or r == "" or int(r) >= int(p)
        assert _rule_holds(rule, values) is expected, values
