"""`make smoke`: the built artifact, alone, serves a whole session under python3.13.

The x86_64 copy of the SAM build is imported by a bare python3.13 whose path holds only the built
function, the built layer, and boto3 (which the Lambda runtime provides and the layer leaves out).
This process supplies the stand-ins the handler talks to over the network: PostgreSQL and SSM.

Usage: python -m devtools.smoke --build-dir .aws-sam-x86_64/build --python /path/to/python3.13
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path

from devtools.embedded_postgres import recreate_database, start_embedded_postgres
from devtools.local_stack import (
    LOCAL_DIR,
    REGION,
    SSM_PREFIX,
    start_ssm_stand_in,
    store_signing_key,
)

SMOKE_DATABASE = "authapi_smoke"
FLOW = Path(__file__).with_name("smoke_flow.py")


def lambda_runtime_dir(python: str) -> Path:
    """boto3 for the runtime's Python, standing in for the copy in every Lambda runtime."""
    target = LOCAL_DIR.resolve() / "lambda-runtime-python3.13"
    if not (target / "boto3").is_dir():
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--target", str(target), "boto3"],
            check=True,
        )
    return target


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build-dir", type=Path, required=True)
    parser.add_argument("--python", required=True, help="python3.13, the runtime's Python")
    args = parser.parse_args()
    build = args.build_dir.resolve()
    function_dir, layer_dir = build / "ApiFunction", build / "DependenciesLayer" / "python"
    for required in (function_dir / "authapi", layer_dir):
        if not required.is_dir():
            sys.exit(f"smoke: {required} is missing; run `make build-x86` first")
    for provided in ("boto3", "botocore"):
        if (layer_dir / provided).exists():
            sys.exit(f"smoke: the layer ships {provided}, which would shadow the runtime's own")

    from authapi.auth.keys import generate_private_key_pem

    server = start_embedded_postgres(LOCAL_DIR.resolve() / "pgdata", cleanup="stop")
    asyncio.run(recreate_database(server.dsn(), SMOKE_DATABASE))
    endpoint, moto_server = start_ssm_stand_in()
    try:
        os.environ.update({"AWS_ACCESS_KEY_ID": "smoke", "AWS_SECRET_ACCESS_KEY": "smoke"})
        store_signing_key(endpoint, generate_private_key_pem())
        runtime = lambda_runtime_dir(args.python)
        environment = {
            # a clean environment: nothing from this virtualenv reaches the child
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": os.pathsep.join(map(str, (function_dir, layer_dir, runtime))),
            "PYTHONDONTWRITEBYTECODE": "1",
            "SMOKE_BUILD_DIR": str(build),
            "AUTHAPI_ENVIRONMENT": "production",
            "AUTHAPI_DATABASE_URL": server.url(SMOKE_DATABASE),
            "AUTHAPI_SSM_PARAMETER_PREFIX": SSM_PREFIX,
            "AUTHAPI_DB_POOL_SIZE": "1",
            "AUTHAPI_DB_MAX_OVERFLOW": "0",
            "AWS_ENDPOINT_URL_SSM": endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "smoke",
            "AWS_SECRET_ACCESS_KEY": "smoke",
            "POWERTOOLS_METRICS_NAMESPACE": "authapi",
        }
        # -S: not even the interpreter's own site-packages; -P: keep the script's folder off path
        result = subprocess.run([args.python, "-S", "-P", str(FLOW)], env=environment, check=False)
    finally:
        moto_server.stop()
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
