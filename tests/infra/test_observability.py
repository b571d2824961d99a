"""Alarms and dashboard of template.yaml against the metrics the code emits."""

from __future__ import annotations

from typing import Any

import pytest

from authapi.observability.metrics import BUSINESS_METRICS
from authapi.observability.version_metrics import (
    FUNCTION_NAME,
    FUNCTION_VERSION,
    HTTP_5XX,
    LATENCY,
)
from tests.infra.cfn import Template, load_template, resources, sub_json

pytestmark = pytest.mark.infra

NAMESPACE = "authapi"
EMITTED = set(BUSINESS_METRICS) | {"ColdStart"}  # ColdStart: Powertools, per function
# the API handler's per-version request metrics, for CodeDeploy's alarms on a new version
PER_VERSION = {HTTP_5XX, LATENCY}
NEW_VERSION = {"Fn::GetAtt": ["ApiFunction", "Version.Version"]}


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template("template.yaml")


def _alarm_metrics(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric name, dimensions) of every metric an alarm reads."""
    properties = alarm["Properties"]
    if "MetricName" in properties:
        metrics = [properties]
    else:
        metrics = [
            query["MetricStat"]["Metric"]
            for query in properties["Metrics"]
            if "MetricStat" in query
        ]
    return [
        (
            metric["Namespace"],
            metric["MetricName"],
            {dimension["Name"]: dimension["Value"] for dimension in metric.get("Dimensions", [])},
        )
        for metric in metrics
    ]


def _dashboard_metrics(template: Template) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric name, dimensions) of every metric line on the dashboard."""
    body = sub_json(template["Resources"]["Dashboard"]["Properties"]["DashboardBody"])
    found = []
    for widget in body["widgets"]:
        previous: list[Any] = []
        for line in widget["properties"].get("metrics", []):
            fields = [field for field in line if not isinstance(field, dict)]
            # "." repeats the field above it, CloudWatch's shorthand
            fields = [previous[i] if field == "." else field for i, field in enumerate(fields)]
            previous = fields
            namespace, name, *dimensions = fields
            found.append(
                (namespace, name, dict(zip(dimensions[::2], dimensions[1::2], strict=True)))
            )
    return found


def test_alarms_cover_every_signal_and_notify_the_topic(template: Template) -> None:
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    read = {name: _alarm_metrics(alarm) for name, alarm in alarms.items()}

    def alarms_on(namespace: str, metric: str) -> set[str]:
        return {
            name
            for name, metrics in read.items()
            if any(m[:2] == (namespace, metric) for m in metrics)
        }

    api_5xx = alarms_on("AWS/ApiGateway", "5xx") & alarms_on("AWS/ApiGateway", "Count")
    assert api_5xx, "no 5xx-rate alarm"
    for name in api_5xx:
        expressions = [
            q["Expression"] for q in alarms[name]["Properties"]["Metrics"] if "Expression" in q
        ]
        assert any("/" in expression for expression in expressions), (
            "5xx must be a rate, not a count"
        )
    latency = alarms_on("AWS/ApiGateway", "Latency")
    assert latency
    for name in latency:
        queries = alarms[name]["Properties"]["Metrics"]
        stats = {q["MetricStat"]["Stat"] for q in queries if "MetricStat" in q}
        assert stats == {"p99", "Sum"}, "p99 latency, gated by the request count"
        (expression,) = [q["Expression"] for q in queries if q.get("ReturnData")]
        assert expression.startswith("IF(requests >= "), "quiet periods must never alarm"
    # absolute: at low traffic a rate of 5xx never moves, a handled 503 is no Lambda error
    assert alarms_on("AWS/ApiGateway", "5xx") - api_5xx, "no absolute 5xx alarm"
    assert alarms_on(NAMESPACE, "DatabaseUnavailable")
    assert alarms_on("AWS/Lambda", "Errors")
    assert alarms_on("AWS/Lambda", "Throttles")
    assert alarms_on(NAMESPACE, "UnhandledError")
    assert alarms_on(NAMESPACE, "RefreshTokenReused")

    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": "AlarmTopic"}]
        # quiet periods never alarm, except where silence itself is the failure
        expected = "breaching" if alarm_name_is_absence(alarm) else "notBreaching"
        assert alarm["Properties"]["TreatMissingData"] == expected


def alarm_name_is_absence(alarm: dict[str, Any]) -> bool:
    """An alarm on something that must keep happening: its missing data is the failure."""
    return str(alarm["Properties"]["ComparisonOperator"]).startswith("LessThan")


def test_lambda_alarms_watch_the_api_and_maintenance_functions(template: Template) -> None:
    watched = set()
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        for namespace, metric, dimensions in _alarm_metrics(alarm):
            if namespace == "AWS/Lambda":
                function = dimensions["FunctionName"]
                watched.add((function["Ref"], metric))
                # per version: the one this deploy published, through the live alias
                if len(dimensions) > 1:
                    assert dimensions == {
                        "FunctionName": {"Ref": "ApiFunction"},
                        "Resource": {"Fn::Sub": "${ApiFunction}:live"},
                        "ExecutedVersion": NEW_VERSION,
                    }
    assert {("ApiFunction", "Errors"), ("ApiFunction", "Throttles")} <= watched
    # a failing maintenance run fails quietly otherwise: the tables just grow; and a schedule
    # that stops invoking it fails without any error at all
    assert ("MaintenanceFunction", "Errors") in watched
    assert ("MaintenanceFunction", "Invocations") in watched
    assert {function for function, _ in watched} == {"ApiFunction", "MaintenanceFunction"}


def test_dashboard_shows_every_emitted_metric_and_only_those(template: Template) -> None:
    shown = {name for namespace, name, _ in _dashboard_metrics(template) if namespace == NAMESPACE}
    assert shown == EMITTED


def test_alarms_read_only_emitted_metrics(template: Template) -> None:
    alarmed = {
        name
        for alarm in resources(template, "AWS::CloudWatch::Alarm").values()
        for namespace, name, _ in _alarm_metrics(alarm)
        if namespace == NAMESPACE
    }
    assert alarmed
    assert alarmed <= EMITTED | PER_VERSION


def test_business_metrics_use_the_dimensions_powertools_writes(template: Template) -> None:
    # a CloudWatch metric is its name plus its exact dimension set: one more or one less, no data
    metrics = [m for m in _dashboard_metrics(template) if m[0] == NAMESPACE]
    for alarm in resources(template, "AWS::CloudWatch::Alarm").values():
        metrics += [m for m in _alarm_metrics(alarm) if m[0] == NAMESPACE]
    for _, name, dimensions in metrics:
        if name == "ColdStart":
            assert set(dimensions) == {"function_name", "service"}
            assert dimensions["service"] == "authapi"
        elif name in PER_VERSION:
            assert dimensions == {
                FUNCTION_NAME: {"Ref": "ApiFunction"},
                FUNCTION_VERSION: NEW_VERSION,
            }, name
        else:
            assert dimensions == {"service": "authapi"}, name


def test_dashboard_shows_api_lambda_and_proxy_health(template: Template) -> None:
    shown = {(namespace, name) for namespace, name, _ in _dashboard_metrics(template)}
    assert {
        ("AWS/ApiGateway", "Count"),
        ("AWS/ApiGateway", "4xx"),
        ("AWS/ApiGateway", "5xx"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "Invocations"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Duration"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "ConcurrentExecutions"),
        ("AWS/RDS", "ClientConnections"),
        ("AWS/RDS", "DatabaseConnections"),
        ("AWS/RDS", "DatabaseConnectionsCurrentlySessionPinned"),
    } <= shown


def test_the_new_version_alarms_read_lambda_errors_5xx_and_p99_of_that_version(
    template: Template,
) -> None:
    read = {
        name: _alarm_metrics(alarm)
        for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items()
        if "NewVersion" in name
    }
    pairs = {(namespace, metric) for metrics in read.values() for namespace, metric, _ in metrics}
    assert pairs == {("AWS/Lambda", "Errors"), (NAMESPACE, HTTP_5XX), (NAMESPACE, LATENCY)}
    for metrics in read.values():
        for _, _, dimensions in metrics:
            assert NEW_VERSION in dimensions.values()
    latency = template["Resources"]["NewVersionLatencyP99Alarm"]["Properties"]["Metrics"]
    stats = {q["MetricStat"]["Stat"] for q in latency if "MetricStat" in q}
    assert stats == {"p99", "SampleCount"}, "p99, gated by the new version's request count"
