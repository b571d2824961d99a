"""Lambda entry point of the scheduled maintenance run: `authapi.handlers.maintenance.handler`.

EventBridge Scheduler invokes it on the template's MaintenanceSchedule (every minute by default,
its ScheduleV2 event); `make maintenance` and the local cloud invoke it too. The event says
nothing it needs: whatever it holds, one run re-queues mail, publishes audit events and deletes
what is due (authapi.maintenance) within the invocation's remaining time, and logs what it did.
A failure raises, which is what the function's Errors alarm counts.
"""

from __future__ import annotations

import asyncio
import os
import warnings
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from authapi.audit.eventbridge import EventBridgeBus
from authapi.clock import SystemClock
from authapi.config import Settings, get_settings
from authapi.db.engine import Database
from authapi.maintenance import MaintenanceReport, run_maintenance
from authapi.observability import metrics as business_metrics
from authapi.observability.logs import configure_logging
from authapi.outbox.notify import notifier_for

settings = get_settings()
logger = configure_logging(settings)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "authapi", service="authapi"
)
warnings.filterwarnings("ignore", message="No application metrics to publish")
business_metrics.install_sink(
    lambda name: metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
)


def event_bus_for(settings: Settings) -> EventBridgeBus | None:
    """EventBridge when a bus is configured (Lambda, the local cloud), else no publishing."""
    if settings.event_bus_name is None:
        return None
    return EventBridgeBus(
        settings.event_bus_name,
        region=settings.aws_region,
        timeout_seconds=settings.event_publish_timeout_seconds,
    )


async def _maintain(context: LambdaContext) -> MaintenanceReport:
    # one run per schedule tick: its own engine, disposed with it, on a fresh loop each time
    database = Database(settings)
    notifier = notifier_for(settings)  # the mail queue, for the outbox re-queue
    bus = event_bus_for(settings)
    try:
        return await run_maintenance(
            database,
            settings,
            clock=SystemClock(),
            seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
            mail_queue=notifier.queue,
            event_sink=bus,
        )
    finally:
        if bus is not None:
            bus.close()
        notifier.close()
        await database.dispose()


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = asyncio.run(_maintain(context))
    # as text: the log redactor masks any key that names a token, refresh_tokens included
    deleted = " ".join(f"{table}={rows}" for table, rows in report.deleted.items())
    if report.requeue_failed:
        logger.warning("mail queue unreachable: pending mail waits for the next run")
    errors = " ".join(sorted(report.event_errors))
    if report.event_bus_unreachable:
        logger.warning(
            "event bus unreachable: audit events wait in the outbox for the next run",
            extra={"errors": errors},
        )
    if report.events_failed:
        logger.warning(
            "the event bus refused some audit events: they wait for the next run",
            extra={"events_refused": report.events_failed, "errors": errors},
        )
    facts = {
        "deleted": deleted,
        "mail_requeued": report.requeued,
        "events_published": report.events_published,
    }
    if report.finished:
        logger.info("maintenance run", extra=facts)
    else:
        logger.warning("maintenance run out of time; the next one goes on", extra=facts)
    return {
        "deleted": report.deleted,
        "finished": report.finished,
        "mail_requeued": report.requeued,
        "mail_requeue_failed": report.requeue_failed,
        "events_published": report.events_published,
        "events_refused": report.events_failed,
        "events_abandoned": report.events_abandoned,
        "event_bus_unreachable": report.event_bus_unreachable,
    }
