"""Lambda entry point of the scheduled maintenance run: `authapi.handlers.maintenance.handler`.

EventBridge Scheduler invokes it on the template's MaintenanceSchedule (every minute by default,
its ScheduleV2 event); `make
maintenance` and the local cloud invoke it too. The event says nothing it needs: whatever it holds,
one run deletes what is due (authapi.maintenance) within the invocation's remaining time, and logs
what it deleted. A failure raises, which is what the function's Errors alarm counts.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from authapi.clock import SystemClock
from authapi.config import get_settings
from authapi.db.engine import Database
from authapi.maintenance import MaintenanceReport, run_maintenance
from authapi.observability.logs import configure_logging
from authapi.outbox.notify import notifier_for

settings = get_settings()
logger = configure_logging(settings)


async def _maintain(context: LambdaContext) -> MaintenanceReport:
    # one run per schedule tick: its own engine, disposed with it, on a fresh loop each time
    database = Database(settings)
    notifier = notifier_for(settings)  # the mail queue, for the outbox re-queue
    try:
        return await run_maintenance(
            database,
            settings,
            clock=SystemClock(),
            seconds_left=lambda: context.get_remaining_time_in_millis() / 1000,
            mail_queue=notifier.queue,
        )
    finally:
        notifier.close()
        await database.dispose()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = asyncio.run(_maintain(context))
    # as text: the log redactor masks any key that names a token, refresh_tokens included
    deleted = " ".join(f"{table}={rows}" for table, rows in report.deleted.items())
    if report.requeue_failed:
        logger.warning("mail queue unreachable: pending mail waits for the next run")
    if report.finished:
        logger.info("maintenance run", extra={"deleted": deleted, "mail_requeued": report.requeued})
    else:
        logger.warning(
            "maintenance run out of time; the next one goes on", extra={"deleted": deleted}
        )
    return {
        "deleted": report.deleted,
        "finished": report.finished,
        "mail_requeued": report.requeued,
        "mail_requeue_failed": report.requeue_failed,
    }
