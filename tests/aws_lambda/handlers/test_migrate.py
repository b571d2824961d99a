"""The migrate function as CodeDeploy runs it: the API's PreTraffic hook, migrating a database of
its own, then running the smoke flow against the new version (the real API handler on that
database, reached as Lambda's Invoke would reach it) and reporting the result; and two
migrations at once, which must not both change the schema."""

from __future__ import annotations

import asyncio
import importlib
import io
import ipaddress
import json
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
from authapi.handlers.lambda_app import LambdaApp
from authapi.handlers.smoke import SmokeFlow
from authapi.migrations import head_revisions, upgrade_to_head
from devtools.lambda_events import FakeLambdaContext, lambda_context
from tests.support.aws import MakeLambda
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


class NewVersion:
    """Lambda's Invoke of the API function's new version, answered by the real handler (built on
    the hook's database once the hook migrated it); every call is kept."""

    def __init__(self, make_lambda: MakeLambda, database_url: str, **settings: Any):
        self._make = lambda: make_lambda(
            ScratchDatabase(
                url=database_url,
                server=None,
                role_prefix=make_url(database_url).database or "authapi",
            ),
            **settings,
        )
        self._lambda_app: LambdaApp | None = None
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def invoke(
        self, *, FunctionName: str, Qualifier: str, InvocationType: str, Payload: bytes
    ) -> dict[str, Any]:
        assert InvocationType == "RequestResponse"
        event = json.loads(Payload)
        self.calls.append((FunctionName, Qualifier, event))
        if self._lambda_app is None:
            self._lambda_app = self._make()  # a cold start, after the migration
        context = FakeLambdaContext(function_name=FunctionName, function_version=Qualifier)
        response = self._lambda_app.handler(event, context)  # type: ignore[arg-type]
        return {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(response).encode())}

    def paths(self) -> list[str]:
        return [event["rawPath"] for _, _, event in self.calls]


# the Lambda client the hook makes next (a test sets it); every other service is boto3's own
LAMBDA_CLIENT: dict[str, Any] = {}


@pytest.fixture
def codedeploy(aws_credentials: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The CodeDeploy client the handler makes, with botocore checking every call's shape."""
    client = boto3.client("codedeploy", region_name="us-east-1")
    make_client: Any = boto3.client  # boto3's overloads name each service literally

    def clients(service: str, **options: Any) -> Any:
        if service == "codedeploy":
            return client
        if service == "lambda":
            return LAMBDA_CLIENT.pop("next")
        return make_client(service, **options)

    monkeypatch.setattr(boto3, "client", clients)
    with Stubber(client) as stubber:
        yield stubber
    LAMBDA_CLIENT.clear()
    get_settings.cache_clear()


API_FUNCTION, NEW_VERSION = "authapi-dev-api", "7"


def _expect_deployment(stubber: Stubber) -> None:
    # the AppSpec CloudFormation writes for a Lambda alias update: the hook's event names only
    # the deployment, this names the version
    app_spec = {
        "version": 0.0,
        "Resources": [
            {
                "ApiFunction": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Name": API_FUNCTION,
                        "Alias": "live",
                        "CurrentVersion": "6",
                        "TargetVersion": NEW_VERSION,
                    },
                }
            }
        ],
    }
    stubber.add_response(
        "get_deployment",
        {
            "deploymentInfo": {
                "deploymentId": HOOK_EVENT["DeploymentId"],
                "revision": {
                    "revisionType": "AppSpecContent",
                    "appSpecContent": {"content": json.dumps(app_spec)},
                },
            }
        },
        {"deploymentId": HOOK_EVENT["DeploymentId"]},
    )


async def _smoke_accounts(database_url: str) -> list[str]:
    connection = await asyncpg.connect(
        make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        rows = await connection.fetch(
            "SELECT email FROM users WHERE email LIKE 'success+%@simulator.amazonses.com'"
        )
        return [row["email"] for row in rows]
    finally:
        await connection.close()


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


SMOKE_PATHS = [
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/me",
    "/api/v1/auth/refresh-token",
    "/api/v1/auth/logout",
    "/api/v1/auth/me/delete",
]


async def test_as_the_hook_it_migrates_smoke_tests_the_new_version_then_reports_succeeded(
    fresh_database: str,
    codedeploy: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    ssm_with_key: object,
    make_lambda: MakeLambda,
) -> None:
    module = _handler_module(monkeypatch, fresh_database)
    new_version = NewVersion(make_lambda, fresh_database)
    LAMBDA_CLIENT["next"] = new_version
    _expect_deployment(codedeploy)
    _expect_report(codedeploy, "Succeeded")

    result = await asyncio.to_thread(_invoke, module, HOOK_EVENT)

    assert result == {"status": "Succeeded", "revisions": list(head_revisions())}
    codedeploy.assert_no_pending_responses()
    assert {"users", "auth_sessions", "refresh_tokens", "alembic_version"} <= await _tables(
        fresh_database
    )
    # every step went to the version the deployment shifts to, none to $LATEST or the alias
    assert {(name, version) for name, version, _ in new_version.calls} == {
        (API_FUNCTION, NEW_VERSION)
    }
    assert new_version.paths() == SMOKE_PATHS
    (email,) = {json.loads(e["body"])["email"] for _, _, e in new_version.calls[:2]}
    assert email.startswith("success+")
    assert email.endswith("@simulator.amazonses.com")
    assert await _smoke_accounts(fresh_database) == []  # deleted through the API
    # one benchmarking-range address for the whole run (its rate-limit buckets are its own)
    (source_ip,) = {e["requestContext"]["http"]["sourceIp"] for _, _, e in new_version.calls}
    assert ipaddress.ip_address(source_ip) in ipaddress.ip_network("198.18.0.0/15")


def test_each_run_draws_its_own_source_address_so_redeploys_share_no_rate_limit_bucket() -> None:
    def flow() -> SmokeFlow:
        return SmokeFlow(
            call=lambda event: {}, host="h", verify_directly=print, delete_directly=print
        )

    addresses = {flow().source_ip for _ in range(50)}
    # 131070 host addresses: 50 draws collide rarely, a fixed address always
    assert len(addresses) >= 45
    network = ipaddress.ip_network("198.18.0.0/15")
    hosts = {network.network_address, network.broadcast_address}
    drawn = {ipaddress.ip_address(a) for a in addresses}
    assert all(a in network and a not in hosts for a in drawn)


async def test_where_addresses_must_be_verified_the_hook_verifies_its_own_account(
    fresh_database: str,
    codedeploy: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    ssm_with_key: object,
    make_lambda: MakeLambda,
) -> None:
    # registration signs nobody in and login needs a verified address: the simulator's mail
    # has no link anyone clicks, so the hook marks the address verified itself
    module = _handler_module(monkeypatch, fresh_database)
    new_version = NewVersion(make_lambda, fresh_database, require_verified_email=True)
    LAMBDA_CLIENT["next"] = new_version
    _expect_deployment(codedeploy)
    _expect_report(codedeploy, "Succeeded")

    result = await asyncio.to_thread(_invoke, module, HOOK_EVENT)

    assert result["status"] == "Succeeded"
    assert new_version.paths() == [*SMOKE_PATHS[:-1], "/api/v1/auth/login", SMOKE_PATHS[-1]]
    assert await _smoke_accounts(fresh_database) == []


MFA_SMOKE_PATHS = [
    "/api/v1/auth/register",
    "/api/v1/auth/login",
    "/api/v1/auth/me",  # 403 mfa_enrolment_required: the tokens are enrol-only
    "/api/v1/auth/mfa/totp",
    "/api/v1/auth/mfa/totp/verify",
    "/api/v1/auth/login",  # 202: the challenge
    "/api/v1/auth/mfa/challenge",
    "/api/v1/auth/me",
    "/api/v1/auth/refresh-token",
    "/api/v1/auth/logout",
    "/api/v1/auth/me/delete",
]


async def test_where_mfa_is_required_the_hook_enrols_totp_and_signs_in_through_the_challenge(
    fresh_database: str,
    codedeploy: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    ssm_with_key: object,
    make_lambda: MakeLambda,
) -> None:
    # AUTHAPI_MFA_REQUIRED: register and login give enrol-only tokens, /me refuses them; a
    # flow that stopped there would roll every deploy back
    module = _handler_module(monkeypatch, fresh_database)
    new_version = NewVersion(make_lambda, fresh_database, mfa_required=True)
    LAMBDA_CLIENT["next"] = new_version
    _expect_deployment(codedeploy)
    _expect_report(codedeploy, "Succeeded")

    result = await asyncio.to_thread(_invoke, module, HOOK_EVENT)

    assert result["status"] == "Succeeded"
    codedeploy.assert_no_pending_responses()
    assert new_version.paths() == MFA_SMOKE_PATHS
    assert await _smoke_accounts(fresh_database) == []  # deleted through the API


async def test_a_failed_smoke_step_reports_failed_and_still_deletes_the_account(
    fresh_database: str,
    codedeploy: Stubber,
    monkeypatch: pytest.MonkeyPatch,
    ssm_with_key: object,
    make_lambda: MakeLambda,
) -> None:
    module = _handler_module(monkeypatch, fresh_database)
    new_version = NewVersion(make_lambda, fresh_database)
    LAMBDA_CLIENT["next"] = new_version
    _expect_deployment(codedeploy)
    _expect_report(codedeploy, "Failed")

    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the new version's bug")

    # the new code breaks /me: the deploy must not reach users
    monkeypatch.setattr("authapi.auth.repository.get_principal_user", broken)

    result = await asyncio.to_thread(_invoke, module, HOOK_EVENT)

    assert result == {"status": "Failed", "revisions": list(head_revisions())}
    codedeploy.assert_no_pending_responses()
    assert new_version.paths() == SMOKE_PATHS[:3]  # stopped at the failed step
    assert await _smoke_accounts(fresh_database) == []  # deleted in the database instead


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
