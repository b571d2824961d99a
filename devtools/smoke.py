"""`make smoke`: the built artifact, alone, serves a whole session under python3.13.

The x86_64 copy of the SAM build is imported by a bare python3.13 whose path holds only the built
function, the built layer, and boto3 (which the Lambda runtime provides and the layer leaves out).
This process supplies the stand-ins the handler talks to over the network: PostgreSQL and SSM.

Usage: python -m devtools.smoke --build-dir .aws-sam-x86_64/build --python /path/to/python3.13
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from devtools.embedded_postgres import local_database
from devtools.local_stack import (
    LOCAL_DIR,
    local_lambda_environment,
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


def child_environment(
    database_url: str, ssm_endpoint: str, build: Path, python_path: list[Path]
) -> dict[str, str]:
    """template.yaml's environment on the stand-ins; nothing from this virtualenv."""
    return {
        **local_lambda_environment(database_url),
        "AWS_ENDPOINT_URL_SSM": ssm_endpoint,
        "AWS_ACCESS_KEY_ID": "smoke",
        "AWS_SECRET_ACCESS_KEY": "smoke",
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": os.pathsep.join(map(str, python_path)),
        "PYTHONDONTWRITEBYTECODE": "1",
        "SMOKE_BUILD_DIR": str(build),
    }


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

    from authapi.key_material import generate_private_key_pem

    database = local_database(SMOKE_DATABASE, fresh=True)
    endpoint, moto_server = start_ssm_stand_in()
    try:
        os.environ.update({"AWS_ACCESS_KEY_ID": "smoke", "AWS_SECRET_ACCESS_KEY": "smoke"})
        store_signing_key(endpoint, generate_private_key_pem())
        runtime = lambda_runtime_dir(args.python)
        environment = child_environment(
            database.url, endpoint, build, [function_dir, layer_dir, runtime]
        )
        # -S: not even the interpreter's own site-packages; -P: keep the script's folder off path
        result = subprocess.run([args.python, "-S", "-P", str(FLOW)], env=environment, check=False)
    finally:
        moto_server.stop()
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
