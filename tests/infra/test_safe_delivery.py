"""Issue 16, safe delivery, in what CloudFormation receives for each samconfig environment: the
CodeDeploy application and group (canary in prod, all at once in dev), the PreTraffic hook and
its permissions, the new version's alarms, reserved concurrency and its rule; the data stack's
cost profiles and alarms; and a runbook page for every alarm of both templates."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from authapi.handlers.lambda_app import METRICS_NAMESPACE
from authapi.observability.version_metrics import (
    FUNCTION_NAME,
    FUNCTION_VERSION,
    HTTP_5XX,
    LATENCY,
)
from devtools.key_replication import DR_REGION_PARAMETER, replica_key_arn
from tests.infra.cfn import ROOT, load_template
from tests.support.sam import (
    NO_VALUE,
    Template,
    app_environments,
    condition,
    data_environments,
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


def _metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """Each metric an alarm reads: its own, or those of its metric-math queries."""
    queries = alarm.get("Metrics") or [{"MetricStat": {"Metric": alarm}}]
    return [query["MetricStat"]["Metric"] for query in queries if "MetricStat" in query]


def test_the_app_metric_alarms_read_what_the_app_emits(
    deployed: tuple[str, Template, dict[str, str]],
) -> None:
    # a renamed metric or dimension would leave the alarms watching nothing: never ALARM, no
    # rollback
    _, template, _ = deployed
    api = template["Resources"]["ApiFunction"]["Properties"]
    namespace = api["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert namespace == METRICS_NAMESPACE  # the handler's default, should the variable go
    version = template["Resources"]["ApiFunctionAliaslive"]["Properties"]["FunctionVersion"]
    expected = {
        "NewVersion5xxAlarm": {HTTP_5XX},
        "NewVersionLatencyP99Alarm": {LATENCY},
    }
    for name, metric_names in expected.items():
        metrics = _metrics(template["Resources"][name]["Properties"])
        assert {metric["MetricName"] for metric in metrics} == metric_names, name
        for metric in metrics:
            assert metric["Namespace"] == namespace, name
            assert metric["Dimensions"] == [
                {"Name": FUNCTION_NAME, "Value": {"Ref": "ApiFunction"}},
                {"Name": FUNCTION_VERSION, "Value": version},
            ], name


def test_the_errors_alarm_counts_the_new_version_invoked_through_the_live_alias(
    deployed: tuple[str, Template, dict[str, str]],
) -> None:
    _, template, _ = deployed
    alias = template["Resources"]["ApiFunctionAliaslive"]["Properties"]
    assert alias["Name"] == "live"
    ((metric),) = _metrics(template["Resources"]["NewVersionErrorsAlarm"]["Properties"])
    assert (metric["Namespace"], metric["MetricName"]) == ("AWS/Lambda", "Errors")
    # Lambda publishes Errors by FunctionName, by Resource (function:alias) and, for an
    # alias, by ExecutedVersion: this combination is the new version's invocations only
    assert {d["Name"]: d["Value"] for d in metric["Dimensions"]} == {
        "FunctionName": {"Ref": "ApiFunction"},
        "Resource": {"Fn::Sub": "${ApiFunction}:live"},
        "ExecutedVersion": alias["FunctionVersion"],
    }


def _alarms(alarm: dict[str, Any], per_minute: list[float]) -> bool:
    """Whether a static-threshold alarm goes to ALARM on these one-minute sums (CloudWatch's
    M of N over the latest N datapoints; missing data is not breaching)."""
    assert alarm["Period"] == 60
    assert alarm["Statistic"] == "Sum"
    compare = {
        "GreaterThanOrEqualToThreshold": lambda value: value >= alarm["Threshold"],
        "GreaterThanThreshold": lambda value: value > alarm["Threshold"],
    }[alarm["ComparisonOperator"]]
    n = alarm["EvaluationPeriods"]
    m = alarm.get("DatapointsToAlarm", n)
    return any(
        sum(compare(value) for value in per_minute[max(0, end - n) : end]) >= m
        for end in range(1, len(per_minute) + 1)
    )


def test_the_5xx_alarm_catches_a_broken_version_at_a_quiet_canary_and_not_one_blip(
    deployed: tuple[str, Template, dict[str, str]],
) -> None:
    # prod's 10% canary at low traffic: about 2 requests a minute for its 5 minutes
    _, template, _ = deployed
    alarm = template["Resources"]["NewVersion5xxAlarm"]["Properties"]
    assert alarm["TreatMissingData"] == "notBreaching"  # minutes without requests
    canary_minutes = 5
    assert alarm["EvaluationPeriods"] <= canary_minutes  # decided while CodeDeploy watches
    # a version answering only 500s, two requests a minute: rolled back within the canary
    assert _alarms(alarm, [2.0] * canary_minutes)
    # even one 500 a minute (half its answers at that traffic), within the canary
    assert _alarms(alarm, [1.0] * canary_minutes)
    # one database blip: a minute of 5xx, then none
    assert not _alarms(alarm, [3.0, 0.0, 0.0, 0.0, 0.0])
    assert not _alarms(alarm, [0.0, 0.0, 40.0, 0.0, 0.0])


def test_the_readme_says_below_which_traffic_the_latency_alarm_is_blind() -> None:
    gate = re.compile(r"IF\(requests >= (\d+), p99, 0\)")
    template = load_template("template.yaml")
    latency = template["Resources"]["NewVersionLatencyP99Alarm"]["Properties"]
    (expression,) = [q["Expression"] for q in latency["Metrics"] if "Expression" in q]
    (minimum,) = gate.findall(expression)
    readme = (ROOT / "README.md").read_text().split("## Deploying to AWS", 1)[1]
    assert f"latency alarm only guards minutes with {minimum} or more" in " ".join(readme.split())
    runbook = (ROOT / "docs" / "runbooks" / "new-version-5xx.md").read_text()
    assert "2 of 5" in runbook


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


# ---- the data stack: cost profiles and the data tier's alarms --------------------------------

PROXY_RESOURCES = {"DbProxy", "DbProxyTargetGroup", "DbProxyRole", "DbProxyLogGroup"}


def _data_stack(config_env: str, profile: str) -> tuple[Template, dict[str, str]]:
    template = load_template("infra/data.yaml")
    parameters = {**deploy_parameters(config_env), "CostProfile": profile}
    return template, parameter_values(template, parameters)


def _exists(template: Template, name: str, values: dict[str, str]) -> bool:
    resource = template["Resources"][name]
    return "Condition" not in resource or condition(template, resource["Condition"], values)


@pytest.mark.parametrize("config_env", data_environments())
def test_standard_is_todays_stack_behind_the_proxy(config_env: str) -> None:
    template, values = _data_stack(config_env, "standard")
    assert all(_exists(template, name, values) for name in PROXY_RESOURCES)
    scaling = resolve(
        template["Resources"]["DbCluster"]["Properties"]["ServerlessV2ScalingConfiguration"],
        template,
        values,
    )
    assert scaling == {"MinCapacity": values["MinCapacity"], "MaxCapacity": values["MaxCapacity"]}
    endpoint = template["Resources"]["ProxyEndpointParameter"]["Properties"]["Value"]
    assert resolve(endpoint, template, values) == {"Fn::GetAtt": ["DbProxy", "Endpoint"]}


@pytest.mark.parametrize("config_env", data_environments())
def test_economy_drops_the_proxy_and_lets_the_writer_pause(config_env: str) -> None:
    template, values = _data_stack(config_env, "economy")
    assert not any(_exists(template, name, values) for name in PROXY_RESOURCES)
    # nothing that exists may still name the proxy
    for name, resource in template["Resources"].items():
        if _exists(template, name, values) and name not in PROXY_RESOURCES:
            properties = resolve(resource.get("Properties", {}), template, values)
            assert "'DbProxy'" not in str(properties), name
    scaling = resolve(
        template["Resources"]["DbCluster"]["Properties"]["ServerlessV2ScalingConfiguration"],
        template,
        values,
    )
    assert scaling == {
        "MinCapacity": 0,
        "MaxCapacity": values["MaxCapacity"],
        "SecondsUntilAutoPause": values["AutoPauseSeconds"],
    }
    # the app stack reads the same parameters: now the writer, and the cluster's IAM resource id
    published = {
        name: resolve(template["Resources"][name]["Properties"]["Value"], template, values)
        for name in ("ProxyEndpointParameter", "ProxyResourceIdParameter")
    }
    assert published == {
        "ProxyEndpointParameter": {"Fn::GetAtt": ["DbCluster", "Endpoint.Address"]},
        "ProxyResourceIdParameter": {"Fn::GetAtt": ["DbCluster", "DBClusterResourceId"]},
    }


def test_economy_keeps_every_other_cluster_property() -> None:
    template, standard = _data_stack("data-dev", "standard")
    _, economy = _data_stack("data-dev", "economy")
    cluster = template["Resources"]["DbCluster"]["Properties"]
    for name, value in cluster.items():
        if name != "ServerlessV2ScalingConfiguration":
            assert resolve(value, template, standard) == resolve(value, template, economy), name


def test_the_data_tier_alarms_watch_pinning_borrow_latency_capacity_and_cpu() -> None:
    template = load_template("infra/data.yaml")
    alarms = {
        name: alarm
        for name, alarm in template["Resources"].items()
        if alarm["Type"] == "AWS::CloudWatch::Alarm"
    }
    watched = {}
    for name, alarm in alarms.items():
        properties = alarm["Properties"]
        metrics = (
            [properties]
            if "MetricName" in properties
            else [q["MetricStat"]["Metric"] for q in properties["Metrics"] if "MetricStat" in q]
        )
        for metric in metrics:
            dimensions = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
            watched[metric["MetricName"]] = (name, dimensions)
        assert properties["AlarmActions"] == [{"Ref": "DataAlarmTopic"}]
    assert watched == {
        "DatabaseConnectionsCurrentlySessionPinned": (
            "ProxySessionPinnedAlarm",
            {"ProxyName": {"Ref": "DbProxy"}},
        ),
        "DatabaseConnectionBorrowLatency": (
            "ProxyBorrowLatencyAlarm",
            {"ProxyName": {"Ref": "DbProxy"}},
        ),
        "ServerlessDatabaseCapacity": (
            "DbCapacityNearMaxAlarm",
            {"DBClusterIdentifier": {"Ref": "DbCluster"}},
        ),
        "CPUUtilization": ("DbCpuAlarm", {"DBClusterIdentifier": {"Ref": "DbCluster"}}),
    }
    pinned = alarms["ProxySessionPinnedAlarm"]["Properties"]
    assert (pinned["ComparisonOperator"], pinned["Threshold"]) == ("GreaterThanThreshold", 0)
    # the proxy's alarms go with the proxy
    assert alarms["ProxySessionPinnedAlarm"]["Condition"] == "UsesProxy"
    assert alarms["ProxyBorrowLatencyAlarm"]["Condition"] == "UsesProxy"
    # near max is relative to MaxCapacity, so it follows the parameter
    (share,) = [
        q for q in alarms["DbCapacityNearMaxAlarm"]["Properties"]["Metrics"] if "Expression" in q
    ]
    assert share["Expression"] == {"Fn::Sub": "100 * capacity / ${MaxCapacity}"}


# ---- runbooks: one page per alarm, linked from its description --------------------------------


def _alarms_of(path: str) -> dict[str, dict[str, Any]]:
    template = load_template(path)
    return {
        name: resource["Properties"]
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


@pytest.mark.parametrize("path", ["template.yaml", "infra/data.yaml"])
def test_every_alarm_links_its_own_runbook_page(path: str) -> None:
    for name, alarm in _alarms_of(path).items():
        short = alarm["AlarmName"]["Fn::Sub"].removeprefix("authapi-${Env}-")
        description = alarm["AlarmDescription"]["Fn::Sub"]
        assert description.endswith(f"Runbook: ${{RunbookBaseUrl}}/{short}.md"), name
        page = ROOT / "docs" / "runbooks" / f"{short}.md"
        assert page.is_file(), f"{name}: {page} is missing"
        text = page.read_text()
        for section in ("## What it means", "## First checks", "## Fixes"):
            assert section in text, f"{page.name}: {section}"


def test_every_runbook_page_belongs_to_an_alarm() -> None:
    alarms = {
        alarm["AlarmName"]["Fn::Sub"].removeprefix("authapi-${Env}-")
        for path in ("template.yaml", "infra/data.yaml")
        for alarm in _alarms_of(path).values()
    }
    pages = {page.stem for page in (ROOT / "docs" / "runbooks").glob("*.md")} - {"README"}
    assert pages == alarms


# ---- the keys' DR region: a multi-Region key, its replica, the region the tools read ---------


@pytest.mark.parametrize("config_env", data_environments())
def test_the_ssm_key_is_multi_region_and_the_tools_find_the_dr_region(config_env: str) -> None:
    template, values = _data_stack(config_env, "standard")
    key = template["Resources"]["SsmKey"]
    assert _exists(template, "SsmKey", values)
    assert key["Properties"]["MultiRegion"] is True
    assert key["DeletionPolicy"] == "Retain"
    published = template["Resources"]["DrRegionParameter"]["Properties"]
    # where the key tools look (devtools/key_replication.py, infra/bootstrap-signing-key.sh)
    name = f"/authapi/{values['Env']}/{DR_REGION_PARAMETER}"
    assert resolve(published["Name"], template, values) == name
    assert (
        f"{{prefix}}{DR_REGION_PARAMETER}" in (ROOT / "infra/bootstrap-signing-key.sh").read_text()
    )
    region = resolve(published["Value"], template, values)
    if config_env == "data-prod":
        assert region == values["DrRegion"] != ""  # prod's keys always have a second region
        # the same region the AWS Backup copies go to
        backup = load_template("infra/backup.yaml")["Parameters"]["DrRegion"]["Default"]
        assert region == backup
    assert region != ""  # SSM refuses empty values: "none" without a DR region
    rule = load_template("infra/data.yaml")["Rules"]["DrRegionInProd"]
    assert _rule_holds(rule, {"Env": "prod", "DrRegion": ""}) is False
    assert _rule_holds(rule, {"Env": "dev", "DrRegion": ""}) is True


def test_in_the_dr_region_the_data_stack_publishes_the_replica_instead_of_a_new_key() -> None:
    replica = "arn:aws:kms:us-west-2:123456789012:key/mrk-0123456789abcdef0123456789abcdef"
    template = load_template("infra/data.yaml")
    values = parameter_values(
        template, {**deploy_parameters("data-prod"), "ReplicaSsmKeyArn": replica}
    )
    assert not _exists(template, "SsmKey", values)
    assert not _exists(template, "SsmKeyAlias", values)
    published = template["Resources"]["KmsKeyArnParameter"]["Properties"]["Value"]
    # what the DR app stack's KmsKeyArn reads: the key the copies are encrypted with
    assert resolve(published, template, values) == replica


def test_the_dr_keys_stack_replicates_the_data_stacks_key() -> None:
    template = load_template("infra/dr-keys.yaml")
    (replica,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::KMS::ReplicaKey"]
    assert replica["Properties"]["PrimaryKeyArn"] == {"Ref": "PrimaryKeyArn"}
    assert replica["DeletionPolicy"] == "Retain"
    # the ARN the key tools derive (devtools.key_replication.replica_key_arn) must be accepted
    pattern = template["Parameters"]["PrimaryKeyArn"]["AllowedPattern"]
    data = load_template("infra/data.yaml")["Parameters"]["ReplicaSsmKeyArn"]["AllowedPattern"]
    primary = "arn:aws:kms:us-east-1:123456789012:key/mrk-0123456789abcdef0123456789abcdef"
    assert re.fullmatch(pattern, primary)
    assert re.fullmatch(data, replica_key_arn(primary, "us-west-2"))


# ---- economy: nothing connects often enough to keep Aurora awake ------------------------------

_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours)\)")


def _interval_seconds(expression: str) -> int:
    match = _RATE.fullmatch(expression)
    assert match, expression
    return int(match[1]) * (3600 if match[2].startswith("hour") else 60)


def test_economy_environments_run_maintenance_less_often_than_aurora_pauses() -> None:
    # each app environment reads its data stack's parameters: dev <- data-dev, prod <- data-prod
    data = load_template("infra/data.yaml")
    for environment in app_environments():
        stack = parameter_values(data, deploy_parameters(f"data-{environment}"))
        app = parameter_values(load_template("template.yaml"), deploy_parameters(environment))
        interval = _interval_seconds(app["MaintenanceSchedule"])
        if stack["CostProfile"] == "economy":
            # a run that connects within AutoPauseSeconds of the last one keeps the writer up
            assert interval > int(stack["AutoPauseSeconds"]), environment
    # the guidance samconfig gives for an economy dev pauses at the default AutoPauseSeconds
    default_pause = int(data["Parameters"]["AutoPauseSeconds"]["Default"])
    assert _interval_seconds("rate(15 minutes)") > default_pause
    assert "MaintenanceSchedule=rate(15 minutes)" in (ROOT / "samconfig.toml").read_text()


def test_every_allowed_schedule_keeps_the_not_running_alarm_meaningful() -> None:
    template = load_template("template.yaml")
    alarm = template["Resources"]["MaintenanceNotRunningAlarm"]["Properties"]
    for expression in template["Parameters"]["MaintenanceSchedule"]["AllowedValues"]:
        # at least two runs in the alarm's period: one late run is no alarm
        assert 2 * _interval_seconds(expression) <= alarm["Period"], expression
    assert template["Parameters"]["MaintenanceSchedule"]["Default"] == "rate(1 minute)"


def test_the_maintenance_schedule_is_the_only_periodic_trigger(
    deployed: tuple[str, Template, dict[str, str]],
) -> None:
    # what could wake a paused writer on its own: schedules, rules, canaries, warmers
    _, template, values = deployed
    periodic = {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"]
        in {"AWS::Scheduler::Schedule", "AWS::Events::Rule", "AWS::Synthetics::Canary"}
    }
    assert list(periodic) == ["MaintenanceFunctionEveryMinute"]
    expression = resolve(
        periodic["MaintenanceFunctionEveryMinute"]["Properties"]["ScheduleExpression"],
        template,
        values,
    )
    assert expression == values["MaintenanceSchedule"]


# ---- the execute-api endpoint: off once the API has its custom domain --------------------------

DOMAIN = {
    "DomainName": "auth.example.com",
    "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-4000-8000-0",
}


def _execute_api_disabled(template: Template, values: dict[str, str]) -> bool:
    """What API Gateway reads: SAM puts the setting in the OpenAPI body's servers."""
    (api,) = _of_type(template, "AWS::ApiGatewayV2::Api").values()
    assert "DisableExecuteApiEndpoint" not in api["Properties"]  # SAM moves it into the body
    (server,) = api["Properties"]["Body"]["servers"]
    setting = server["x-amazon-apigateway-endpoint-configuration"]["disableExecuteApiEndpoint"]
    resolved = resolve(setting, template, values)
    assert isinstance(resolved, bool)
    return resolved


def test_the_execute_api_endpoint_answers_only_without_a_custom_domain(
    deployed: tuple[str, Template, dict[str, str]],
) -> None:
    environment, template, values = deployed
    has_domain = values["DomainName"] != ""
    # as samconfig deploys it: no domain yet in either environment, so the endpoint answers
    assert _execute_api_disabled(template, values) is has_domain

    parameters = {**deploy_parameters(environment), **DOMAIN}
    with_domain = transformed_template(parameters)
    # with a domain the API answers on it alone: the issuer is https://<DomainName>, which no
    # API id change can move, and nothing goes around the edge in front of it
    assert _execute_api_disabled(with_domain, parameter_values(with_domain, parameters))
    issuer = with_domain["Outputs"]["Issuer"]["Value"]
    resolved = resolve(issuer, with_domain, parameter_values(with_domain, parameters))
    assert resolved == "https://auth.example.com"


# ---- the docs say what the templates do ---------------------------------------------------------


def test_the_readme_names_the_provisioned_concurrency_ladder_the_template_allows() -> None:
    ladder = load_template("template.yaml")["Parameters"]["ProvisionedConcurrency"]
    values = [str(value) for value in ladder["AllowedValues"]]
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Cold starts") :]
    section = section[: section.index("\n## ", 1)]
    listed = f"one of {', '.join(values[:-1])} or {values[-1]} (default {ladder['Default']})"
    assert listed in section


def test_the_cost_page_prices_every_interface_endpoint_of_the_data_stack() -> None:
    endpoints = [
        resource["Properties"]["ServiceName"]["Fn::Sub"].rpartition(".")[2]
        for resource in load_template("infra/data.yaml")["Resources"].values()
        if resource["Type"] == "AWS::EC2::VPCEndpoint"
        and resource["Properties"]["VpcEndpointType"] == "Interface"
    ]
    assert sorted(endpoints) == ["codedeploy", "email-smtp", "events", "lambda", "sqs", "ssm"]
    cost = (ROOT / "docs" / "operations" / "cost.md").read_text()
    (line,) = [row for row in cost.splitlines() if row.startswith("| VPC interface endpoints |")]
    monthly = len(endpoints) * 2 * 730 * 0.01  # two AZs, a month of hours, the hourly price
    assert f"${monthly:.2f}" in line
    assert f"{len(endpoints)} endpoints x 2 AZs" in line
    for name in ("SSM", "SQS", "SES SMTP", "Lambda", "CodeDeploy", "EventBridge"):
        assert name in line
