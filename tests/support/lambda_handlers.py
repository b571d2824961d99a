"""Lambda handlers for the execution-environment tests: standard library only, so that an
environment starts in a few milliseconds. `handler="tests.support.lambda_handlers.echo"`."""

from __future__ import annotations

import os
import time
from typing import Any


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """What the invocation saw: its event, its context, a variable of its environment."""
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "marker": os.environ.get("MARKER"),
        "pid": os.getpid(),
    }


def fail(event: dict[str, Any], context: Any) -> None:
    raise RuntimeError("failed as asked")


def sleep(event: dict[str, Any], context: Any) -> dict[str, Any]:
    time.sleep(float(event["seconds"]))
    return {"pid": os.getpid()}
