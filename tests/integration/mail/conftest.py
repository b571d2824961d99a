"""The mail tier's fixtures: moto's SQS and SES v2 on a port, settings that reach them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from authapi.config import Settings
from authapi.db.engine import Database
from authapi.signing.keys import DataKeys
from tests.support.aws import REGION
from tests.support.lifecycle import Mailer, lifecycle_overrides
from tests.support.mail import CONFIGURATION_SET, SENDER, MailStandIns
from tests.support.settings import SESSION_DATA_KEYS


@pytest.fixture(scope="session")
def mail_stand_ins() -> Iterator[MailStandIns]:
    stand_ins = MailStandIns()
    yield stand_ins
    stand_ins.close()


@pytest.fixture
def mail(
    mail_stand_ins: MailStandIns, aws_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> MailStandIns:
    """Both up and empty; `monkeypatch.setenv(...)` to `down_url` takes one down."""
    mail_stand_ins.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", mail_stand_ins.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", mail_stand_ins.url)
    return mail_stand_ins


@pytest.fixture
def mail_settings(settings: Settings, mail: MailStandIns) -> Settings:
    return settings.model_copy(
        update={
            "mail_queue_url": mail.queue_url,
            "mail_from": SENDER,
            "mail_configuration_set": CONFIGURATION_SET,
            "mail_product_name": "Acme Accounts",
            "public_app_url": "https://app.acme.test",
            "aws_region": REGION,
            "mail_circuit_failures": 3,
            "mail_circuit_open_seconds": 30,
        }
    )


@pytest.fixture
async def mail_database(mail_settings: Settings) -> AsyncIterator[Database]:
    database = Database(mail_settings)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def data_keys() -> DataKeys:
    return DataKeys.parse(SESSION_DATA_KEYS)


@pytest.fixture
def mailer(
    mail: MailStandIns, mail_database: Database, mail_settings: Settings, data_keys: DataKeys
) -> Mailer:
    return Mailer(mail=mail, database=mail_database, settings=mail_settings, data_keys=data_keys)


@pytest.fixture
def lifecycle(mail: MailStandIns, mail_settings: Settings) -> dict[str, object]:
    """Settings for `client_with(**lifecycle)`: an app whose mail reaches the stand-ins."""
    return lifecycle_overrides(mail, mail_settings)
