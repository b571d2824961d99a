"""The audit trail's stand-in in the local cloud: moto's EventBridge, with the template's bus
(AuditEventBus, `authapi-local-audit` here) and one rule that copies every authapi event to an
SQS queue, where a developer reads what the maintenance run published:

    aws --endpoint-url <moto> sqs receive-message --queue-url <events queue>

(the local cloud prints both at start, and `make mail-test`'s state file holds them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from devtools.local_mail import client
from devtools.template_env import load_template, resolve_value

QUEUE_NAME = "authapi-local-audit-events"
RULE_NAME = "authapi-local-every-audit-event"


@dataclass(frozen=True)
class LocalEvents:
    endpoint: str
    bus_name: str
    queue_url: str

    def function_overrides(self, environment: dict[str, str]) -> dict[str, str]:
        """What a function's environment points at here: the local bus."""
        if "AUTHAPI_EVENT_BUS_NAME" not in environment:
            return {}
        return {"AUTHAPI_EVENT_BUS_NAME": self.bus_name}


def template_bus_name(env: str) -> str:
    name = load_template()["Resources"]["AuditEventBus"]["Properties"]["Name"]
    return str(resolve_value(name, parameters={"Env": env}))


def start_local_events(endpoint: str, *, env: str = "local") -> LocalEvents:
    """Create the bus, the queue and the rule between them in moto."""
    sqs, events = client("sqs", endpoint), client("events", endpoint)
    queue_url = sqs.create_queue(QueueName=QUEUE_NAME)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    bus_name = template_bus_name(env)
    events.create_event_bus(Name=bus_name)
    events.put_rule(
        Name=RULE_NAME, EventBusName=bus_name, EventPattern=json.dumps({"source": ["authapi"]})
    )
    events.put_targets(
        Rule=RULE_NAME, EventBusName=bus_name, Targets=[{"Id": "queue", "Arn": queue_arn}]
    )
    return LocalEvents(endpoint=endpoint, bus_name=bus_name, queue_url=queue_url)
