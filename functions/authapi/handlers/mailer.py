"""Lambda entry point of the mailer: `authapi.handlers.mailer.handler`, on the mail queue.

SQS invokes it with batches of outbox ids; Powertools' BatchProcessor reports the records to
retry (ReportBatchItemFailures), so one message's failure never redelivers the others. Each
record is one `deliver` (authapi.mailer.delivery); a record stays queued while the provider
fails or the circuit breaker is open, and goes to the DLQ after the queue's maxReceiveCount,
which loses nothing: the row is still pending and the maintenance run re-queues it.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
import warnings
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from authapi.app import key_provider_for
from authapi.clock import SystemClock
from authapi.config import get_settings
from authapi.db.engine import Database
from authapi.mailer.delivery import Outcome, deliver
from authapi.mailer.providers import provider_for
from authapi.observability import metrics as business_metrics
from authapi.observability.logs import configure_logging

settings = get_settings()
logger = configure_logging(settings)
clock = SystemClock()
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "authapi", service="authapi"
)
warnings.filterwarnings("ignore", message="No application metrics to publish")
business_metrics.install_sink(
    lambda name: metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
)
# one loop and one engine per execution environment, kept across invocations (as the API's)
loop = asyncio.new_event_loop()
database = Database(settings)
key_provider = key_provider_for(settings, clock)
provider = provider_for(settings)
processor = BatchProcessor(event_type=EventType.SQS)


class StaysQueued(Exception):
    """The record must come back: the provider failed, or the circuit breaker is open."""


async def _deliver(outbox_id: uuid.UUID) -> Outcome:
    # the data keys only open a submitted address (forgot, resend); read when first needed
    ring = await key_provider.key_ring()
    return await deliver(
        database,
        settings,
        outbox_id=outbox_id,
        provider=provider,
        clock=clock,
        data_keys=ring.data_keys,
    )


def record_handler(record: SQSRecord) -> str:
    try:
        outbox_id = uuid.UUID(json.loads(record.body)["outbox_id"])
    except (ValueError, KeyError, TypeError):
        # not ours: retrying cannot help, and the DLQ would only hide it; dropped, logged
        logger.error(
            "mail queue message without an outbox id", extra={"sqs_message_id": record.message_id}
        )
        return "unreadable"
    outcome = loop.run_until_complete(_deliver(outbox_id))
    if outcome.stays_queued:
        raise StaysQueued(outcome.value)
    return outcome.value


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    asyncio.set_event_loop(loop)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
