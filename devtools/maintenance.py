"""`make maintenance`: one maintenance run through the real handler, on the local database.

What EventBridge Scheduler does in AWS on the template's MaintenanceSchedule (and the local cloud
every minute): the MaintenanceFunction's handler, called with the template's scheduled event and
a Lambda context with the function's timeout, in the environment template.yaml gives it. It
prints what it deleted.

Usage: python -m devtools.maintenance
"""

from __future__ import annotations

import json
import os
from typing import Any, cast

from devtools.embedded_postgres import local_database
from devtools.lambda_events import FakeLambdaContext
from devtools.local_stack import local_lambda_environment, migrate_through_handler
from devtools.template_env import load_template

FUNCTION = "MaintenanceFunction"


def scheduled_event() -> dict[str, Any]:
    """The event the template's schedule sends: its ScheduleV2 `Input`."""
    properties = load_template()["Resources"][FUNCTION]["Properties"]
    (schedule,) = properties["Events"].values()
    event: dict[str, Any] = json.loads(schedule["Properties"]["Input"])
    return event


def function_timeout() -> float:
    return float(load_template()["Resources"][FUNCTION]["Properties"]["Timeout"])


def maintain_through_handler() -> dict[str, Any]:
    """One run, as the scheduler invokes it: the maintenance function's handler, its event."""
    from authapi.handlers.maintenance import handler  # after the environment is in place

    context = FakeLambdaContext(
        function_name="authapi-local-MaintenanceFunction",
        log_group_name="/aws/lambda/authapi-local-MaintenanceFunction",
        timeout_seconds=function_timeout(),
    )
    result: dict[str, Any] = handler(scheduled_event(), cast(Any, context))
    return result


def main() -> None:
    database_url = local_database("authapi").url
    environment = local_lambda_environment(
        database_url, FUNCTION, AUTHAPI_ENVIRONMENT="development"
    )
    for name, value in environment.items():
        os.environ.setdefault(name, value)
    migrate_through_handler()  # a fresh clone's database has no tables yet
    print(json.dumps(maintain_through_handler()))


if __name__ == "__main__":
    main()
