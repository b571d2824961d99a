"""Lambda entry point that migrates the database: `authapi.handlers.migrate.handler`.

CodeDeploy invokes it as the API function's PreTraffic hook on every deploy: the new code gets no
traffic until this has applied every pending migration and reported Succeeded; a failure reports
Failed and the deploy rolls back with the old code still serving. It can also be invoked by hand
(any other event). Either way it applies the migrations in one transaction, under an advisory lock,
and returns the revisions the database is at.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext

from authapi.config import get_settings
from authapi.db.engine import create_engine
from authapi.migrations import upgrade_to_head
from authapi.observability.logs import configure_logging

settings = get_settings()
logger = configure_logging(settings)


@dataclass(frozen=True)
class DeploymentHook:
    """The CodeDeploy lifecycle event this invocation answers, when CodeDeploy sent it."""

    deployment_id: str
    execution_id: str

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> DeploymentHook | None:
        deployment_id, execution_id = (
            event.get("DeploymentId"),
            event.get("LifecycleEventHookExecutionId"),
        )
        if isinstance(deployment_id, str) and isinstance(execution_id, str):
            return cls(deployment_id, execution_id)
        return None

    def report(self, status: Literal["Succeeded", "Failed"]) -> None:
        import boto3  # only hook invocations pay for it

        boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
            deploymentId=self.deployment_id,
            lifecycleEventHookExecutionId=self.execution_id,
            status=status,
        )


async def _migrate() -> tuple[str, ...]:
    engine = create_engine(settings)
    try:
        return await upgrade_to_head(engine, role_prefix=settings.db_role_prefix)
    finally:
        await engine.dispose()


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    hook = DeploymentHook.from_event(event)
    try:
        # a one-shot job with its own engine, so a fresh event loop per invocation is right here
        revisions = asyncio.run(_migrate())
    except Exception:
        logger.exception("database migration failed")
        if hook is None:
            raise
        hook.report("Failed")  # CodeDeploy rolls the deploy back; the old code keeps serving
        return {"status": "Failed"}
    logger.info("database migrated", extra={"revisions": list(revisions)})
    if hook is not None:
        hook.report("Succeeded")
    return {"status": "Succeeded", "revisions": list(revisions)}
