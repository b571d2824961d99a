"""AWS as the Lambda tier and the fault tests see it: SSM stand-ins, settings, event payloads.

Two SSM stand-ins: moto in process (`mock_aws`, the `ssm` fixture) where a test only needs the
parameters, and `SsmEndpoint`, moto's SSM on a real local port, where a test takes SSM down or
counts the calls the app makes to it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from authapi.clock import Clock
from authapi.config import Settings
from authapi.key_material import generate_data_key_entry
from devtools.lambda_events import fill_placeholders
from devtools.local_stack import LOCAL_PARAMETERS
from devtools.template_env import lambda_environment, load_template, settings_values
from tests.support.db import ScratchDatabase
from tests.support.settings import UNLIMITED

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment
    from mypy_boto3_ssm import SSMClient
    from werkzeug.serving import BaseWSGIServer

    from authapi.handlers.lambda_app import LambdaApp

EVENTS = Path(__file__).resolve().parents[2] / "events"
REGION = "us-east-1"
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
}


def _deploy_time_stand_ins() -> dict[str, str]:
    """A value for each parameter CloudFormation reads from SSM at deploy time (the data stack's
    ids): the same valid name for all, since the database URL is replaced anyway."""
    declared: dict[str, dict[str, Any]] = load_template().get("Parameters", {})
    return {
        name: "authapi"
        for name, parameter in declared.items()
        if str(parameter.get("Type", "")).startswith("AWS::SSM::Parameter::Value")
    }


def template_environment(database_url: str = "postgresql://unused") -> dict[str, str]:
    """The API function's environment from template.yaml, reaching `database_url` instead of
    the RDS Proxy: password auth, no TLS (what cannot exist here), everything else as in AWS."""
    return lambda_environment(
        "ApiFunction",
        # the test client and the events/ payloads arrive on the local cloud's hosts
        parameters={**_deploy_time_stand_ins(), "CustomDomains": LOCAL_PARAMETERS["CustomDomains"]},
        overrides={
            "AUTHAPI_DATABASE_URL": database_url,
            "AUTHAPI_DB_AUTH": "password",
            "AUTHAPI_DB_REQUIRE_TLS": "false",
            # no queue: tests of the mail path give one of their own (tests/support/mail.py)
            "AUTHAPI_MAIL_QUEUE_URL": "",
        },
    )


PREFIX = template_environment()["AUTHAPI_SSM_PARAMETER_PREFIX"]
SIGNING_KEY_PARAMETER = f"{PREFIX}jwt/signing-key"
RETIRED_KEYS_PARAMETER = f"{PREFIX}jwt/retired-public-keys"
DATA_KEYS_PARAMETER = f"{PREFIX}data/keys"
NEXT_PUBLIC_KEY_PARAMETER = f"{PREFIX}jwt/next-public-key"
KMS_KEY_PARAMETER = f"{PREFIX}kms/key-arn"
OAUTH_CLIENTS_PARAMETER = f"{PREFIX}oauth/clients"
# the CloudFront edge's X-Origin-Verify secret (issue 16), read with the keys
ORIGIN_VERIFY_PARAMETER = f"{PREFIX}edge/origin-verify"
KMS_KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-4000-8000-000000000000"


def lambda_settings(database: ScratchDatabase, **overrides: object) -> Settings:
    """Settings as the template sets them (production, keys from SSM, one pooled connection),
    on the test database, limits off like every tier's (`UNLIMITED`), `overrides` on top."""
    values: dict[str, object] = {
        **settings_values(template_environment(database.url)),
        "db_role_prefix": database.role_prefix,
        **UNLIMITED,
        **overrides,
    }
    return Settings.model_validate(values)


def lambda_process_environment() -> dict[str, str]:
    """The template's variables that are not settings (Powertools reads them from the process)."""
    return {
        name: value
        for name, value in template_environment().items()
        if not name.startswith("AUTHAPI_")
    }


def put_keys(
    ssm: SSMClient, pem: str, *, retired: str = "none", data_keys: str | None = None
) -> None:
    """Store the keys where the template's bootstrap script puts them (data keys too: the
    provider reads all three in one call)."""
    ssm.put_parameter(Name=SIGNING_KEY_PARAMETER, Value=pem, Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name=RETIRED_KEYS_PARAMETER, Value=retired, Type="String", Overwrite=True)
    ssm.put_parameter(
        Name=DATA_KEYS_PARAMETER,
        Value=data_keys or generate_data_key_entry(),
        Type="SecureString",
        Overwrite=True,
    )


def put_kms_key_arn(ssm: SSMClient) -> None:
    """What the data stack publishes for the tools that write SecureStrings (key rotation)."""
    ssm.put_parameter(Name=KMS_KEY_PARAMETER, Value=KMS_KEY_ARN, Type="String", Overwrite=True)


def load_event(name: str, **placeholders: str) -> dict[str, Any]:
    """A recorded event payload from events/, its `{{placeholders}}` filled in."""
    return fill_placeholders(json.loads((EVENTS / name).read_text()), placeholders)


WsgiApp = Callable[["WSGIEnvironment", "StartResponse"], Iterable[bytes]]


class SsmEndpoint:
    """moto's SSM on one local port: it can go down (refusing connections) and come back, and it
    records the API actions it was asked (`GetParameters`, ...), in order."""

    def __init__(self) -> None:
        self.port = 0  # chosen by the first start, kept by the next ones
        self.actions: list[str] = []
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _app(self) -> WsgiApp:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        moto = DomainDispatcherApplication(create_backend_app)

        def recording(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
            target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
            self.actions.append(target.rpartition(".")[2])
            result: Iterable[bytes] = moto(environ, start_response)
            return result

        return recording

    def up(self) -> None:
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        self._server = make_server(
            "127.0.0.1", self.port, self._app(), threaded=True, request_handler=MotoRequestHandler
        )
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def down(self) -> None:
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        # closing the socket too: a socket left listening makes connections hang, not fail
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def reset(self) -> None:
        """Forget every parameter: moto's backends live in the process, so without this a test
        would see what the previous one left (a rotation's state, a next key)."""
        import urllib.request

        reset = f"{self.url}/moto-api/reset"  # our own server, over plain http
        request = urllib.request.Request(reset, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310
            pass
        self.actions.clear()

    def client(self) -> SSMClient:
        import boto3

        return boto3.client("ssm", region_name=REGION, endpoint_url=self.url)

    def close(self) -> None:
        if self._server is not None:
            self.down()


class MakeLambda(Protocol):
    """The `make_lambda` fixture: a handler built as at a cold start, on `database` if given."""

    def __call__(
        self,
        database: ScratchDatabase | None = None,
        *,
        clock: Clock | None = None,
        **overrides: object,
    ) -> LambdaApp: ...
