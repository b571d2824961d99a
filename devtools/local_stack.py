"""The local cloud's stand-ins: PostgreSQL (embedded) and SSM Parameter Store (moto's server).

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

LOCAL_DIR = Path(".local")
SSM_PREFIX = "/authapi/local/"
REGION = "us-east-1"

# What template.yaml sets in AWS, minus what cannot exist here (IAM auth, TLS to RDS Proxy).
LAMBDA_ENVIRONMENT = {
    "AUTHAPI_ENVIRONMENT": "development",  # keeps /docs on; production refuses nothing here
    "AUTHAPI_SSM_PARAMETER_PREFIX": SSM_PREFIX,
    "AUTHAPI_SSM_CACHE_SECONDS": "300",
    "AUTHAPI_DB_POOL_SIZE": "1",
    "AUTHAPI_DB_MAX_OVERFLOW": "0",
    "AUTHAPI_DB_POOL_RECYCLE_SECONDS": "300",
    "AUTHAPI_LOG_FORMAT": "json",
    "POWERTOOLS_SERVICE_NAME": "authapi",
    "POWERTOOLS_METRICS_NAMESPACE": "authapi",
    "AWS_REGION": REGION,
    "AWS_DEFAULT_REGION": REGION,
    # moto accepts any credentials; these only keep botocore from looking for real ones
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    # AWS_LAMBDA_FUNCTION_NAME stays unset: Powertools Tracer switches itself off outside Lambda
}


@dataclass
class LocalStack:
    database_url: str
    ssm_endpoint: str
    _moto: Any

    def stop(self) -> None:
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


def store_signing_key(endpoint: str, pem: str) -> None:
    """Put the key where the template's bootstrap script puts it in AWS: a SecureString."""
    import boto3

    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name=REGION)
    ssm.put_parameter(
        Name=SSM_PREFIX + "jwt/signing-key", Value=pem, Type="SecureString", Overwrite=True
    )
    ssm.put_parameter(
        Name=SSM_PREFIX + "jwt/retired-public-keys", Value="none", Type="String", Overwrite=True
    )


def start_local_stack(database_name: str = "authapi") -> LocalStack:
    """Start the stand-ins and export the handler's environment into this process."""
    from authapi.auth.keys import development_key_pem
    from devtools.embedded_postgres import start_embedded_postgres

    for name, value in LAMBDA_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    database_url = os.environ.get("AUTHAPI_DATABASE_URL")
    if not database_url:
        server = start_embedded_postgres(LOCAL_DIR.resolve() / "pgdata", cleanup="stop")
        server.create_database(database_name)
        database_url = os.environ["AUTHAPI_DATABASE_URL"] = server.url(database_name)
    endpoint, moto_server = start_ssm_stand_in()
    os.environ["AWS_ENDPOINT_URL_SSM"] = endpoint
    # the same developer key `make dev` uses, so tokens survive switching between the two
    store_signing_key(endpoint, development_key_pem(LOCAL_DIR / "dev-signing-key.pem"))
    return LocalStack(database_url=database_url, ssm_endpoint=endpoint, _moto=moto_server)


def migrate_through_handler() -> list[str]:
    """Migrate as a deployment does: by invoking the migration function's handler."""
    from authapi.handlers.migrate import handler
    from devtools.lambda_events import FakeLambdaContext

    context = FakeLambdaContext(function_name="authapi-local-MigrateFunction")
    result = handler({}, context)  # type: ignore[arg-type]
    return list(result["revisions"])
