"""The MailerFunction as SQS invokes it: a batch event (events/mail-queue-batch.json), a Lambda
context, partial batch failures (only the record that must come back is reported)."""

from __future__ import annotations

import asyncio
import importlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from authapi.config import get_settings
from authapi.mailer.ses import SendFailure
from devtools.lambda_events import FakeLambdaContext, fill_placeholders
from tests.infra.cfn import load_template
from tests.support.accounts import Account, register
from tests.support.aws import AWS_ENVIRONMENT
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient
from tests.support.logs import emf_blobs, log_records
from tests.support.mail import SENDER, MailStandIns
from tests.support.settings import SESSION_DATA_KEYS

pytestmark = [pytest.mark.aws_lambda, pytest.mark.head_schema]

EVENT = Path(__file__).resolve().parents[3] / "events" / "mail-queue-batch.json"


@pytest.fixture(scope="module")
def mail_stand_ins() -> Iterator[MailStandIns]:
    stand_ins = MailStandIns()
    yield stand_ins
    stand_ins.close()


@pytest.fixture
def handler_module(
    test_database: ScratchDatabase,
    signing_key_pem: str,
    mail_stand_ins: MailStandIns,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ModuleType]:
    """The handler module as a new execution environment imports it."""
    mail_stand_ins.reset()
    for name, value in AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AUTHAPI_SSM_PARAMETER_PREFIX", raising=False)
    environment = {
        "AUTHAPI_ENVIRONMENT": "test",
        "AUTHAPI_DATABASE_URL": test_database.url,
        "AUTHAPI_DB_ROLE_PREFIX": test_database.role_prefix,
        "AUTHAPI_JWT_PRIVATE_KEY": signing_key_pem,
        "AUTHAPI_DATA_KEYS": SESSION_DATA_KEYS,
        "AUTHAPI_MAIL_FROM": SENDER,
        "AUTHAPI_MAIL_TRANSPORT": "ses-api",
        "AWS_ENDPOINT_URL_SESV2": mail_stand_ins.url,
        "POWERTOOLS_SERVICE_NAME": "authapi",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    import authapi.handlers.mailer as module

    reloaded = importlib.reload(module)
    yield reloaded
    reloaded.loop.run_until_complete(reloaded.database.dispose())
    get_settings.cache_clear()


async def enqueue(test_database: ScratchDatabase, account: Account) -> str:
    outbox_id = uuid.uuid4()
    await test_database.execute(
        "INSERT INTO mail_outbox (id, kind, purpose, account_id, created_at)"
        " VALUES ($1, 'test_message', 'test_message', $2, $3)",
        outbox_id,
        uuid.UUID(account.user_id),
        datetime.now(UTC),
    )
    return str(outbox_id)


def batch(**outbox_ids: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(EVENT.read_text())
    return fill_placeholders(event, outbox_ids)


def test_the_template_subscribes_the_mailer_with_partial_batch_failures() -> None:
    properties = load_template("template.yaml")["Resources"]["MailerFunction"]["Properties"]
    assert properties["Handler"] == "authapi.handlers.mailer.handler"
    (source,) = properties["Events"].values()
    assert source["Type"] == "SQS"
    assert source["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


@pytest.fixture
async def other_account(client: ApiClient) -> Account:
    return await register(client)


# not async: the handler runs its own loop, as in Lambda, which a running loop would refuse
def test_a_batch_reports_only_the_record_that_must_come_back(
    handler_module: ModuleType,
    mail_stand_ins: MailStandIns,
    test_database: ScratchDatabase,
    account: Account,
    other_account: Account,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    first = asyncio.run(enqueue(test_database, account))
    second = asyncio.run(enqueue(test_database, other_account))
    provider = handler_module.provider
    real_send = provider.send

    def send(*, to: str, raw: bytes, sender: str | None = None) -> str:
        if to == other_account.email:  # SES throttles this one
            raise SendFailure("TooManyRequestsException", 429, permanent=False)
        return str(real_send(to=to, raw=raw, sender=sender))

    monkeypatch.setattr(provider, "send", send)
    event = batch(outbox_id_1=first, outbox_id_2=second)
    context = FakeLambdaContext(function_name="authapi-test-mailer")
    result = handler_module.handler(event, context)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert [mail.to for mail in mail_stand_ins.sent()] == [[account.email]]
    # SQS delivers the same batch again: the sent one is not sent twice; the other now is
    monkeypatch.setattr(provider, "send", real_send)
    assert handler_module.handler(event, context) == {"batchItemFailures": []}
    assert sorted(m.to[0] for m in mail_stand_ins.sent()) == sorted(
        [account.email, other_account.email]
    )
    output = capsys.readouterr().out
    names = {metric for blob in emf_blobs(output) for metric in _metric_names(blob)}
    assert {"MailSent", "MailRetried"} <= names
    records = log_records(output)
    assert any(record.get("outbox_id") == first for record in records)
    assert account.email not in output
    assert other_account.email not in output


def _metric_names(blob: dict[str, Any]) -> list[str]:
    return [
        metric["Name"]
        for directive in blob["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    ]
