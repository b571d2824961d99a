"""After the statement that enqueued mail: hand the new ids to the mailer's queue.

Best effort by design. The row is committed already, so a failure here loses nothing: the
maintenance run re-queues any pending row nobody has handed over within
`mail_requeue_after_seconds`. A request never fails, nor waits long, because the queue is down.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from typing import Protocol

from authapi.config import Settings
from authapi.observability import metrics

logger = logging.getLogger(__name__)

MAIL_NOTIFY_FAILED = metrics.MAIL_NOTIFY_FAILED


def queue_message(outbox_id: uuid.UUID) -> str:
    """The body of a queue message: the outbox id, nothing else (no address, no token)."""
    return json.dumps({"outbox_id": str(outbox_id)})


class MailQueue(Protocol):
    def send(self, bodies: Sequence[str]) -> None: ...

    def close(self) -> None: ...


class OutboxNotifier:
    """Hands outbox ids to the queue; with no queue (tests, `make dev`) only the re-queue does."""

    def __init__(self, queue: MailQueue | None):
        self.queue = queue

    async def notify(self, outbox_ids: Sequence[uuid.UUID]) -> bool:
        """True when the queue took every id; False (logged, counted) when it did not."""
        if self.queue is None or not outbox_ids:
            return False
        import anyio.to_thread

        queue = self.queue
        bodies = [queue_message(outbox_id) for outbox_id in outbox_ids]
        try:
            # a blocking HTTPS call: off the event loop, where its cost is visible
            await anyio.to_thread.run_sync(queue.send, bodies)
        except Exception as error:
            metrics.count(MAIL_NOTIFY_FAILED)
            logger.warning(
                "mail queue unreachable; the maintenance run will re-queue",
                extra={"error": type(error).__name__, "messages": len(bodies)},
            )
            return False
        return True

    def close(self) -> None:
        if self.queue is not None:
            self.queue.close()


def notifier_for(settings: Settings) -> OutboxNotifier:
    """SQS when a queue URL is configured (Lambda, the local cloud), else no queue."""
    if settings.mail_queue_url is None:
        return OutboxNotifier(None)
    from authapi.outbox.sqs import SqsQueue

    return OutboxNotifier(
        SqsQueue(
            settings.mail_queue_url,
            region=settings.aws_region,
            timeout_seconds=settings.mail_send_timeout_seconds,
        )
    )
