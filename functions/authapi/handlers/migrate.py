"""Lambda entry point that migrates the database: `authapi.handlers.migrate.handler`.

CodeDeploy invokes it as the API function's PreTraffic hook on every update: the new code gets no
traffic until this has applied every pending migration, run the smoke flow against the new version
(authapi.handlers.smoke: CodeDeploy takes one PreTraffic hook per deployment) and reported
Succeeded; a failure of either reports Failed and the deploy rolls back with the old code still
serving. An event `{"admin_create": "<email>"}` migrates, then grants the admin role to that
existing account (docs/admin.md: the first administrator in AWS). Any other event means
migrations only: the deploy workflow sends `{}` after every
`sam deploy`, since CloudFormation runs no CodeDeploy deployment (so no hook) when it creates the
stack, only when it updates the alias; after an update it finds nothing left to do. Either way it
applies the migrations in one transaction, under an advisory lock, and returns the revisions the
database is at.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from aws_lambda_powertools.utilities.typing import LambdaContext
from sqlalchemy.ext.asyncio import AsyncSession

from authapi.admin.bootstrap import grant_admin
from authapi.clock import SystemClock
from authapi.config import get_settings
from authapi.db.engine import Database, create_engine
from authapi.db.session import unit_of_work
from authapi.handlers.smoke import SmokeFlow
from authapi.handlers.smoke_transport import TargetVersion, lambda_invoke
from authapi.migrations import upgrade_to_head
from authapi.observability.logs import configure_logging
from authapi.users.repository import delete_user_by_email, verify_email_of

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

    @property
    def codedeploy(self) -> Any:
        import boto3  # only hook invocations pay for it

        return boto3.client("codedeploy")

    def target(self) -> TargetVersion:
        """The version this deployment moves the alias to: what the smoke flow tests."""
        return TargetVersion.of_deployment(self.codedeploy, self.deployment_id)

    def report(self, status: Literal["Succeeded", "Failed"]) -> None:
        self.codedeploy.put_lifecycle_event_hook_execution_status(
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


async def _on_the_database(change: Callable[[AsyncSession], Awaitable[object]]) -> None:
    """One transaction on the migrator's own connection (the smoke account's direct changes)."""
    database = Database(settings)
    try:
        async with unit_of_work(database) as db:
            await change(db)
    finally:
        await database.dispose()


def _verify_account(email: str) -> None:
    now = SystemClock().now()
    asyncio.run(_on_the_database(lambda db: verify_email_of(db, email=email, now=now)))


def _delete_account(email: str) -> None:
    asyncio.run(_on_the_database(lambda db: delete_user_by_email(db, email=email)))


def smoke_host() -> str:
    """A Host the API's trusted hosts admit (any execute-api name of its region)."""
    return f"pretraffic.execute-api.{settings.aws_region}.amazonaws.com"


def smoke_test(hook: DeploymentHook) -> None:
    """The smoke flow against the deployment's new version; raises SmokeFailed on a bad step."""
    target = hook.target()
    logger.info("smoke flow", extra={"function": target.function_name, "version": target.version})
    SmokeFlow(
        call=lambda_invoke(target),
        host=smoke_host(),
        verify_directly=_verify_account,
        delete_directly=_delete_account,
    ).run()


def _grant_admin(email: str) -> bool:
    """The admin role for the account with this address (admin.role_granted, actor the
    service); whether there was one. Never creates an account: an event carries no password."""
    now = SystemClock().now()
    found: list[object] = []

    async def grant(db: AsyncSession) -> None:
        found.append(await grant_admin(db, email=email, now=now))

    asyncio.run(_on_the_database(grant))
    return found[0] is not None


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
    admin_email = event.get("admin_create")
    if hook is None and isinstance(admin_email, str):
        granted = _grant_admin(admin_email)
        # the address is not logged (personal data); the caller knows which one it sent
        logger.warning("admin role granted" if granted else "admin role: no such account")
        return {
            "status": "Succeeded" if granted else "Failed",
            "revisions": list(revisions),
            "admin_create": "granted" if granted else "no_account",
        }
    if hook is not None:
        try:
            smoke_test(hook)
        except Exception:
            # the schema stays migrated: the old code runs on it (tests/integration checks that)
            logger.exception("smoke flow failed against the new version")
            hook.report("Failed")
            return {"status": "Failed", "revisions": list(revisions)}
        hook.report("Succeeded")
    return {"status": "Succeeded", "revisions": list(revisions)}
