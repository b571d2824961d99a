"""The migrate function as CodeDeploy runs it: the API's PreTraffic hook, reporting its result,
on a database of its own; and two migrations at once, which must not both change the schema."""

from __future__ import annotations

import asyncio
import importlib
import uuid
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any

import asyncpg
import boto3
import pytest
from botocore.stub import Stubber
from sqlalchemy.engine import make_url

from authapi.config import Settings, get_settings
from authapi.db.engine import create_engine
from authapi.migrations import head_revisions, upgrade_to_head
from devtools.lambda_events import lambda_context
from tests.support.db import ScratchDatabase

pytestmark = pytest.mark.aws_lambda

HOOK_EVENT = {"DeploymentId": "d-EXAMPLE123", "LifecycleEventHookExecutionId": "hook-execution-1"}
UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nothing"


@pytest.fixture
async def fresh_database(test_database: ScratchDatabase) -> AsyncIterator[str]:
    """An empty database beside the session's (same server), as a new environment has; dropped
    with the roles its migration made."""
    name = f"authapi_migrate_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(test_database.dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(test_database.direct_url or test_database.url).set(database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'DROP ROLE IF EXISTS "{name}_app", "{name}_migrator"')
        await admin.close()


def _handler_module(monkeypatch: pytest.MonkeyPatch, database_url: str) -> ModuleType:
    """The handler module as a new execution environment imports it, with these settings."""
    monkeypatch.setenv("AUTHAPI_ENVIRONMENT", "test")
    monkeypatch.setenv("AUTHAPI_DATABASE_URL", database_url)
    monkeypatch.setenv("AUTHAPI_DB_ROLE_PREFIX", make_url(database_url).database or "authapi")
    get_settings.cache_clear()
    import authapi.handlers.migrate as module

    return importlib.reload(module)


@pytest.fixture
def codedeploy(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The CodeDeploy client the handler makes, with botocore checking every call's shape."""
    client = boto3.client("codedeploy", region_name="us-east-1")
    monkeypatch.setattr(boto3, "client", lambda service, **_: client)
    with Stubber(client) as stubber:
        yield stubber
    get_settings.cache_clear()


def _expect_report(stubber: Stubber, status: str) -> None:
    stubber.add_response(
        "put_lifecycle_event_hook_execution_status",
        {"lifecycleEventHookExecutionId": HOOK_EVENT["LifecycleEventHookExecutionId"]},
        {
            "deploymentId": HOOK_EVENT["DeploymentId"],
            "lifecycleEventHookExecutionId": HOOK_EVENT["LifecycleEventHookExecutionId"],
            "status": status,
        },
    )


async def _tables(database_url: str) -> set[str]:
    connection = await asyncpg.connect(
        make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row["tablename"] for row in rows}
    finally:
        await connection.close()


def _invoke(module: ModuleType, event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = module.handler(event, lambda_context("CodeDeployHook_authapi-migrate"))
    return result


async def test_as_the_hook_it_migrates_then_reports_succeeded(
    fresh_database: str, codedeploy: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _handler_module(monkeypatch, fresh_database)
    _expect_report(codedeploy, "Succeeded")
    result = await asyncio.to_thread(_invoke, module, HOOK_EVENT)
    assert result == {"status": "Succeeded", "revisions": list(head_revisions())}
    codedeploy.assert_no_pending_responses()
    assert {"users", "auth_sessions", "refresh_tokens", "alembic_version"} <= await _tables(
        fresh_database
    )


def test_as_the_hook_a_failed_migration_reports_failed_and_the_deploy_rolls_back(
    codedeploy: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _handler_module(monkeypatch, UNREACHABLE)
    _expect_report(codedeploy, "Failed")
    # no exception: CodeDeploy has its answer, and a raise would only add a Lambda retry
    assert _invoke(module, HOOK_EVENT) == {"status": "Failed"}
    codedeploy.assert_no_pending_responses()


def test_invoked_by_hand_a_failure_is_raised_and_nothing_is_reported(
    codedeploy: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _handler_module(monkeypatch, UNREACHABLE)
    with pytest.raises(Exception, match="connect"):
        _invoke(module, {})
    codedeploy.assert_no_pending_responses()  # the stub has no response: any call would fail


async def test_two_migrations_at_once_take_turns(fresh_database: str) -> None:
    # a retried hook and an operator's manual run: without the lock both create the tables
    prefix = make_url(fresh_database).database or "authapi"

    async def migrate() -> tuple[str, ...]:
        engine = create_engine(Settings(environment="test", database_url=fresh_database))
        try:
            return await upgrade_to_head(engine, role_prefix=prefix)
        finally:
            await engine.dispose()

    assert await asyncio.gather(migrate(), migrate()) == [head_revisions(), head_revisions()]
