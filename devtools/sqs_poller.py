"""Lambda's SQS event source mapping, stood in: the local cloud's way of running the mailer.

Receives up to the event's BatchSize messages (long polling, 1 s), invokes the function with an
SQS event of them, and deletes those it did not report in `batchItemFailures`
(ReportBatchItemFailures); the failed ones come back after the queue's visibility timeout, and
after maxReceiveCount receives SQS itself moves them to the DLQ, as in AWS.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Any, Protocol


class Invokes(Protocol):
    def invoke(self, event: dict[str, Any]) -> dict[str, Any]: ...


def sqs_event(messages: list[dict[str, Any]], *, queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda builds from received messages (the fields its records carry)."""
    now = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {
                    "ApproximateReceiveCount": message.get("Attributes", {}).get(
                        "ApproximateReceiveCount", "1"
                    ),
                    "SentTimestamp": message.get("Attributes", {}).get("SentTimestamp", now),
                    "SenderId": "local",
                    "ApproximateFirstReceiveTimestamp": now,
                },
                "messageAttributes": {},
                "md5OfBody": hashlib.md5(message["Body"].encode()).hexdigest(),  # noqa: S324 - SQS's own checksum
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


class SqsPoller(threading.Thread):
    def __init__(
        self, function: Invokes, *, sqs: Any, queue_url: str, batch_size: int, region: str
    ) -> None:
        super().__init__(name="sqs-poller", daemon=True)
        self.function = function
        self.sqs = sqs
        self.queue_url = queue_url
        self.batch_size = batch_size
        self.region = region
        self.queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.stopped = threading.Event()
        self.batches = 0

    def poll_once(self, wait_seconds: int = 1) -> int:
        """One receive and, when it got messages, one invocation; how many it received."""
        received = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            return 0
        event = sqs_event(received, queue_arn=self.queue_arn, region=self.region)
        try:
            result = self.function.invoke(event)
        except Exception as error:  # as in AWS: the whole batch comes back after the timeout
            print(f"mailer: batch failed, messages return to the queue: {error}", flush=True)
            return len(received)
        self.batches += 1
        failed = {item["itemIdentifier"] for item in (result or {}).get("batchItemFailures", [])}
        done = [m for m in received if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(done)
                ],
            )
        return len(received)

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.poll_once()
            except Exception as error:  # moto stopping under us at shutdown, say
                if not self.stopped.is_set():
                    print(f"sqs poller: {error}", flush=True)
                    self.stopped.wait(1)

    def stop(self) -> None:
        self.stopped.set()
