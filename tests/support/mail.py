"""The mail path's AWS stand-ins for tests: moto's SQS and SES v2 on a real local port (the app
and the mailer sign their own requests, so moto's in-process mock would never see them), with
switches to take either down and bring it back, and what SES accepted, parsed.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from email import message_from_string, policy
from typing import Any

import boto3

from devtools.local_stack import free_port
from tests.support.aws import REGION

SENDER = "authapi <no-reply@mail.test>"
CONFIGURATION_SET = "authapi-test"


@dataclass(frozen=True)
class SentMail:
    to: list[str]
    subject: str
    text: str
    html: str
    headers: dict[str, str]


class MailStandIns:
    """moto's server for SQS and SES v2: `endpoint` while up, a closed port while down."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.down_url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        self.queue_url = ""

    def close(self) -> None:
        self._server.stop()

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def reset(self) -> None:
        """Empty: moto's state dropped; a fresh queue, and the sender's domain verified."""
        import httpx

        httpx.post(self.url + "/moto-api/reset", timeout=5).raise_for_status()
        self.queue_url = self.client("sqs").create_queue(QueueName=f"mail-{uuid.uuid4().hex[:8]}")[
            "QueueUrl"
        ]
        self.client("sesv2").create_email_identity(EmailIdentity="mail.test")

    def queued_outbox_ids(self) -> list[str]:
        """Receive (and delete) what the queue holds: the outbox ids, in the order received."""
        sqs = self.client("sqs")
        ids: list[str] = []
        while True:
            messages = sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
            ).get("Messages", [])
            if not messages:
                return ids
            for message in messages:
                ids.append(json.loads(message["Body"])["outbox_id"])
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def sent(self) -> list[SentMail]:
        from moto.ses.models import RawMessage, ses_backends

        mails = []
        for message in ses_backends["123456789012"][REGION].sent_messages:
            if not isinstance(message, RawMessage):
                continue
            parsed = message_from_string(message.raw_data, policy=policy.default)
            text = parsed.get_body(preferencelist=("plain",))
            html = parsed.get_body(preferencelist=("html",))
            mails.append(
                SentMail(
                    to=list(dict.fromkeys(message.destinations)),  # moto adds the To again
                    subject=str(parsed["Subject"]),
                    text=text.get_content() if text is not None else "",
                    html=html.get_content() if html is not None else "",
                    headers={key: str(value) for key, value in parsed.items()},
                )
            )
        return mails
