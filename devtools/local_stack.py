"""The local cloud's stand-ins: PostgreSQL (embedded), and moto's server for SSM Parameter Store,
SQS (the mail queue), SES v2 (where the mailer sends; the local mailbox reads it) and EventBridge
(where the maintenance run publishes audit events; devtools.local_events).

`start_local_stack()` prepares the environment the real Lambda handler expects, the way the SAM
template does in AWS, so that importing `authapi.handlers.api` afterwards behaves as in Lambda:
keys are read from SSM through Powertools over HTTP, the database through a one-connection pool.
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools.embedded_postgres import local_database
from devtools.local_events import LocalEvents, start_local_events
from devtools.local_mail import LocalMail, start_local_mail
from devtools.template_env import lambda_environment, load_template, template_variables

LOCAL_DIR = Path(".local")
REGION = "us-east-1"

# What a template parameter or an SSM-read value becomes here (the others keep their defaults).
# Env "local" gives the SSM prefix /authapi/local/; issuer, audience and the database role prefix
# are the app's defaults, as `make dev` uses them, so that tokens survive switching between the two.
LOCAL_PARAMETERS = {
    "Env": "local",
    "Issuer": "authapi",
    "Audience": "authapi",
    "DbRolePrefix": "authapi",
    "AWS::Region": REGION,
    # the hosts requests arrive on here, as if custom domains: the local cloud's own address, the
    # smoke run's, and those of the function URL and ALB payloads in events/ (make invoke)
    # the mail queue's URL is the local stand-in's, given per stack (LocalStack.mail); a tool
    # with no stand-ins (make invoke) gets none: mail waits in the outbox
    "MailQueue": "",
    # likewise the audit trail's bus (LocalStack.events): with none, events wait in the outbox
    "AuditEventBus": "",
    "MailConfigurationSet": "authapi-local",
    "PublicAppUrl": "http://127.0.0.1:8000",
    "CustomDomains": ",".join(
        (
            "127.0.0.1",
            "localhost",
            "smoke.local",
            "*.lambda-url.us-east-1.on.aws",
            "*.us-east-1.elb.amazonaws.com",
        )
    ),
}
# What cannot exist here: IAM auth and TLS to RDS Proxy (the embedded server has neither)
LOCAL_DATABASE = {"AUTHAPI_DB_AUTH": "password", "AUTHAPI_DB_REQUIRE_TLS": "false"}
SSM_PREFIX = "/authapi/local/"  # what the template's prefix becomes with Env "local"
# What the Lambda runtime and AWS give a function, that the template does not say. moto accepts
# any credentials; they only keep botocore from looking for real ones. AWS_LAMBDA_FUNCTION_NAME
# stays unset: Powertools Tracer switches itself off outside Lambda.
RUNTIME_ENVIRONMENT = {
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
}


def local_lambda_environment(
    database_url: str, function: str = "ApiFunction", **overrides: str
) -> dict[str, str]:
    """template.yaml's environment for `function`, on the local stand-ins.

    overrides: further template variables replaced (AUTHAPI_ENVIRONMENT="development"); a name
    the template does not set is refused.
    """
    # the proxy's URL becomes the local database's; a function with no database of its own (the
    # example resource server) has no URL to replace
    database = {"AUTHAPI_DATABASE_URL": database_url}
    if "AUTHAPI_DATABASE_URL" not in template_variables(function, load_template()):
        database = {}
    environment = lambda_environment(
        function,
        parameters=LOCAL_PARAMETERS,
        overrides={**LOCAL_DATABASE, **database, **overrides},
    )
    return {**environment, **RUNTIME_ENVIRONMENT}


@dataclass
class LocalStack:
    database_url: str
    database_description: str
    ssm_endpoint: str  # moto's server: SSM, SQS, SES v2 and EventBridge on one port
    _moto: Any
    mail: LocalMail | None = None
    events: LocalEvents | None = None

    def function_environment(self, function: str) -> dict[str, str]:
        """What `function`'s execution environments get: template.yaml's environment for it,
        on these stand-ins, under this process's own (a variable set here wins: the load run
        raises the rate limits that way)."""
        environment = local_lambda_environment(
            self.database_url, function, AUTHAPI_ENVIRONMENT="development"
        )
        # JSON log lines, as in CloudWatch (outside Lambda the app would pick the console format)
        environment["AUTHAPI_LOG_FORMAT"] = "json"
        if self.mail is not None:
            environment.update(self.mail.function_overrides(environment))
        if self.events is not None:
            environment.update(self.events.function_overrides(environment))
        return {
            **environment,
            **os.environ,
            "AWS_ENDPOINT_URL_SSM": self.ssm_endpoint,
            "AWS_ENDPOINT_URL_SQS": self.ssm_endpoint,
            "AWS_ENDPOINT_URL_SESV2": self.ssm_endpoint,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": self.ssm_endpoint,
        }

    def stop(self) -> None:
        """Stop the SSM stand-in. The embedded database, when this process started it, stops at
        exit (pgserver's own exit hook), unless another process still uses it."""
        self._moto.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_ssm_stand_in() -> tuple[str, Any]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's per-request access lines

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return f"http://127.0.0.1:{port}", server


def store_signing_key(
    endpoint: str, pem: str, data_keys: str | None = None, oauth_clients: str | None = None
) -> None:
    """Put the keys where the template's bootstrap script puts them in AWS: the signing key and
    the data keys as SecureStrings, next to the (empty) list of retired public keys; and the
    OAuth client registry where `make oauth-client ENV=` puts it, when there is one; and the
    tenants' keys `make tenant-create` made."""
    import boto3

    from authapi.key_material import generate_data_key_entry

    ssm = boto3.client(
        "ssm",
        endpoint_url=endpoint,
        region_name=REGION,
        # moto takes any: the stand-in's, so that this process needs none in its environment
        aws_access_key_id=RUNTIME_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=RUNTIME_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
    )
    ssm.put_parameter(
        Name=SSM_PREFIX + "jwt/signing-key", Value=pem, Type="SecureString", Overwrite=True
    )
    ssm.put_parameter(
        Name=SSM_PREFIX + "jwt/retired-public-keys", Value="none", Type="String", Overwrite=True
    )
    ssm.put_parameter(
        Name=SSM_PREFIX + "data/keys",
        Value=data_keys or generate_data_key_entry(),
        Type="SecureString",
        Overwrite=True,
    )
    if oauth_clients is not None:
        ssm.put_parameter(
            Name=SSM_PREFIX + "oauth/clients",
            Value=oauth_clients,
            Type="SecureString",
            Overwrite=True,
        )
    from devtools.tenants import store_local_tenant_keys  # `make tenant-create`'s key files

    store_local_tenant_keys(ssm, SSM_PREFIX)


def start_stand_ins(database_name: str = "authapi") -> LocalStack:
    """Start the stand-ins: the database (migrated by nobody yet) and SSM, holding the keys."""
    from authapi.signing.keys import development_data_keys, development_key_pem

    database = local_database(database_name)
    endpoint, moto_server = start_ssm_stand_in()
    # the same developer key `make dev` uses, so tokens survive switching between the two; and
    # the same OAuth clients (`make oauth-client`)
    clients = LOCAL_DIR / "oauth-clients.json"
    store_signing_key(
        endpoint,
        development_key_pem(LOCAL_DIR / "dev-signing-key.pem"),
        development_data_keys(LOCAL_DIR / "data-keys"),
        clients.read_text() if clients.exists() else None,
    )
    return LocalStack(
        database_url=database.url,
        database_description=database.description,
        ssm_endpoint=endpoint,
        _moto=moto_server,
        mail=start_local_mail(endpoint),
        events=start_local_events(endpoint),
    )


def start_local_stack(database_name: str = "authapi") -> LocalStack:
    """Start the stand-ins and export the API function's environment into this process, for
    tools that call its handler in process (`make invoke`).

    A variable already set in this process wins (the load run raises the rate limits that way).
    """
    stack = start_stand_ins(database_name)
    for name, value in stack.function_environment("ApiFunction").items():
        os.environ.setdefault(name, value)
    os.environ["AWS_ENDPOINT_URL_SSM"] = stack.ssm_endpoint
    return stack


def migrate_through_handler() -> list[str]:
    """Migrate as a deployment does: by invoking the migration function's handler."""
    from authapi.handlers.migrate import handler
    from devtools.lambda_events import lambda_context

    result = handler({}, lambda_context("authapi-local-MigrateFunction"))
    return list(result["revisions"])
