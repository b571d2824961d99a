"""The mail path in template.yaml (issue 13): the queue and its DLQ, the mailer's trigger and
timeouts, SES's configuration set and event destination, IAM scoped to the identity and set."""

from __future__ import annotations

from typing import Any

import pytest

from authapi.config import Settings
from tests.infra.cfn import Template, load_template, resources

pytestmark = pytest.mark.infra


@pytest.fixture(scope="module")
def template() -> Template:
    return load_template("template.yaml")


def test_the_queue_hands_undeliverable_messages_to_the_dlq_after_10_receives(
    template: Template,
) -> None:
    queue = template["Resources"]["MailQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["MailDeadLetterQueue", "Arn"]
    }
    assert queue["RedrivePolicy"]["maxReceiveCount"] >= 10
    mailer = template["Resources"]["MailerFunction"]["Properties"]
    # AWS's advice for a Lambda consumer: visibility at least 6 times the function's timeout
    assert queue["VisibilityTimeout"] >= 6 * mailer["Timeout"]
    dead = template["Resources"]["MailDeadLetterQueue"]["Properties"]
    assert dead["MessageRetentionPeriod"] > queue["MessageRetentionPeriod"]
    for properties in (queue, dead):
        assert properties["SqsManagedSseEnabled"] is True
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    on_dlq = [
        alarm
        for alarm in alarms.values()
        if alarm["Properties"].get("Namespace") == "AWS/SQS"
        and alarm["Properties"]["Dimensions"][0]["Value"]
        == {"Fn::GetAtt": ["MailDeadLetterQueue", "QueueName"]}
    ]
    assert on_dlq, "no alarm on the DLQ"


def test_the_mailer_sends_within_its_timeout(template: Template) -> None:
    mailer = template["Resources"]["MailerFunction"]["Properties"]
    (source,) = mailer["Events"].values()
    batch = source["Properties"]["BatchSize"]
    settings = Settings(environment="test")
    # each record: a claim and a record (a statement each) and one send, all within the timeout
    worst = batch * (settings.mail_send_timeout_seconds + 2 * 5)
    assert mailer["Timeout"] * 10 >= worst  # at worst the circuit opens after a few failures
    assert settings.mail_lease_seconds >= mailer["Timeout"]  # a claim outlives its invocation


def test_ses_events_reach_cloudwatch_and_bounces_and_complaints_are_alarmed(
    template: Template,
) -> None:
    destination = template["Resources"]["MailEventsToCloudWatch"]["Properties"]
    events = destination["EventDestination"]["MatchingEventTypes"]
    assert {"send", "bounce", "complaint", "delivery", "reject"} <= set(events)
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    read = set()
    for alarm in alarms:
        properties = alarm["Properties"]
        if "MetricName" in properties:
            read.add((properties["Namespace"], properties["MetricName"]))
        for query in properties.get("Metrics", []):
            if "MetricStat" in query:
                metric = query["MetricStat"]["Metric"]
                read.add((metric["Namespace"], metric["MetricName"]))
    assert {("AWS/SES", "Bounce"), ("AWS/SES", "Complaint")} <= read
    suppression = template["Resources"]["MailConfigurationSet"]["Properties"]
    assert suppression["SuppressionOptions"]["SuppressedReasons"] == ["BOUNCE", "COMPLAINT"]


def test_sending_is_scoped_to_the_identity_and_the_configuration_set(template: Template) -> None:
    identity = {
        "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}"
        ":identity/${MailDomain}"
    }
    configuration_set = {
        "Fn::Sub": "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}"
        ":configuration-set/${MailConfigurationSet}"
    }
    user = template["Resources"]["MailSmtpUser"]["Properties"]
    (policy,) = user["Policies"]
    statement, tenants = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == "ses:SendRawEmail"  # what SES's SMTP interface authorizes
    assert statement["Resource"] == [identity, configuration_set]
    assert tenants == _tenant_identities("ses:SendRawEmail")
    ses_statements = [
        statement
        for role in resources(template, "AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if str(statement.get("Action")).startswith("ses:")
    ]
    assert ses_statements
    for statement in ses_statements:
        assert statement["Resource"] == [identity, configuration_set]
    tenant_statements = [
        statement
        for role in resources(template, "AWS::IAM::Role").values()
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
        if "Fn::If" in statement
    ]
    assert tenant_statements == [_tenant_identities("ses:SendEmail")]


def _tenant_identities(action: str) -> dict[str, Any]:
    """Issue 17: a tenant's own sender, only as the identities the deployment lists (the list
    the app checks a tenant's `mail_from` against), and only when it lists some."""
    return {
        "Fn::If": [
            "HasTenantMailIdentities",
            {
                "Sid": "SendAsTheTenantIdentities",
                "Effect": "Allow",
                "Action": action,
                "Resource": {"Fn::Split": [",", {"Ref": "TenantMailIdentityArns"}]},
            },
            {"Ref": "AWS::NoValue"},
        ]
    }
