"""The mail path's stand-ins in the local cloud: moto's SQS (the queue and its DLQ, as the
template declares them) and SES v2 (the sending identity verified), on moto's one server.

The queue's visibility timeout is the template's scaled down (`LOCAL_VISIBILITY_SECONDS`), so
a failed delivery comes back in seconds rather than three minutes; maxReceiveCount is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.utils import parseaddr
from typing import Any

from devtools.template_env import load_template

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's
LOCAL_VISIBILITY_SECONDS = 10
CREDENTIALS = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}


def client(service: str, endpoint: str) -> Any:
    import boto3

    return boto3.client(  # type: ignore[call-overload]
        service, endpoint_url=endpoint, region_name=REGION, **CREDENTIALS
    )


def template_queue(logical_id: str) -> dict[str, Any]:
    properties: dict[str, Any] = load_template()["Resources"][logical_id]["Properties"]
    return properties


def sender_address() -> str:
    """The template's default From address (MailFromAddress)."""
    default = str(load_template()["Parameters"]["MailFromAddress"]["Default"])
    return parseaddr(default)[1]


@dataclass(frozen=True)
class LocalMail:
    endpoint: str
    queue_url: str
    dead_letter_queue_url: str
    redrive_max_receives: int

    def function_overrides(self, environment: dict[str, str]) -> dict[str, str]:
        """What a function's environment points at here: the local queue, SES's API (moto)."""
        overrides: dict[str, str] = {}
        if "AUTHAPI_MAIL_QUEUE_URL" in environment:
            overrides["AUTHAPI_MAIL_QUEUE_URL"] = self.queue_url
        if "AUTHAPI_MAIL_TRANSPORT" in environment:
            overrides["AUTHAPI_MAIL_TRANSPORT"] = "ses-api"  # Content.Raw: both parts survive
        return overrides


def start_local_mail(endpoint: str) -> LocalMail:
    """Create the queue and DLQ in moto, and verify the sender's domain in its SES."""
    sqs = client("sqs", endpoint)
    queue = template_queue("MailQueue")
    dead_url = sqs.create_queue(QueueName="authapi-local-mail-dlq")["QueueUrl"]
    dead_arn = sqs.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    max_receives = int(queue["RedrivePolicy"]["maxReceiveCount"])
    queue_url = sqs.create_queue(
        QueueName="authapi-local-mail",
        Attributes={
            "VisibilityTimeout": str(LOCAL_VISIBILITY_SECONDS),
            "MessageRetentionPeriod": str(queue["MessageRetentionPeriod"]),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dead_arn, "maxReceiveCount": max_receives}
            ),
        },
    )["QueueUrl"]
    ses = client("sesv2", endpoint)
    domain = sender_address().rpartition("@")[2]
    ses.create_email_identity(EmailIdentity=domain)
    return LocalMail(
        endpoint=endpoint,
        queue_url=queue_url,
        dead_letter_queue_url=dead_url,
        redrive_max_receives=max_receives,
    )
