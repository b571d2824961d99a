"""`make oauth-client`: the secret shown once and kept only as its HMAC, in the developer's file
or in an environment's SSM parameter, where the app reads it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from authapi.signing.clients import ClientRegistry
from authapi.signing.keys import DataKeys
from devtools.oauth_clients import LocalStore, SsmStore, add, main, remove
from tests.support.aws import (
    DATA_KEYS_PARAMETER,
    OAUTH_CLIENTS_PARAMETER,
    put_keys,
    put_kms_key_arn,
)

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

pytestmark = pytest.mark.unit


def test_a_local_client_is_kept_hashed_in_the_developers_file(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    secret = add(store, "billing", confidential=True)
    assert secret is not None
    assert add(store, "mobile", confidential=False) is None

    text = (tmp_path / "oauth-clients.json").read_text()
    assert secret not in text
    registry = ClientRegistry.parse(text)
    assert registry.clients["billing"].secret_matches(store.data_keys(), secret)
    assert not registry.clients["mobile"].confidential
    assert remove(store, "mobile")
    assert not remove(store, "mobile")
    assert set(ClientRegistry.parse((tmp_path / "oauth-clients.json").read_text()).clients) == {
        "billing"
    }


def test_an_environments_client_goes_to_ssm_under_its_own_data_keys(
    ssm: SSMClient, capsys: pytest.CaptureFixture[str]
) -> None:
    from authapi.key_material import generate_private_key_pem

    put_keys(ssm, generate_private_key_pem())
    put_kms_key_arn(ssm)

    assert main(["add", "billing", "--confidential", "--env", "dev"], ssm=ssm) == 0

    printed = capsys.readouterr().out
    secret = printed.split("client_secret: ", 1)[1].strip()
    stored = ssm.get_parameter(Name=OAUTH_CLIENTS_PARAMETER, WithDecryption=True)["Parameter"]
    assert stored["Type"] == "SecureString"
    assert secret not in stored["Value"]
    keys = DataKeys.parse(
        ssm.get_parameter(Name=DATA_KEYS_PARAMETER, WithDecryption=True)["Parameter"]["Value"]
    )
    assert ClientRegistry.parse(stored["Value"]).clients["billing"].secret_matches(keys, secret)
    assert remove(SsmStore(ssm, "/authapi/dev/"), "billing")
    removed = ssm.get_parameter(Name=OAUTH_CLIENTS_PARAMETER, WithDecryption=True)
    assert removed["Parameter"]["Value"] == "none"
