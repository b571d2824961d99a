"""The API function's cold start never imports pydantic.v1, and FastAPI's v1 checks still answer
true for a v1 model once something imports it."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.aws_lambda

IMPORT_THE_HANDLER = """
import json, sys, warnings
import authapi.handlers.api  # the entry point: every eager router declared
from fastapi import encoders
from fastapi._compat import shared
cold = "pydantic.v1" in sys.modules
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pydantic import v1
import pydantic

class Old(v1.BaseModel):
    name: str

class New(pydantic.BaseModel):
    name: str

print(json.dumps({
    "cold_start_imported_v1": cold,
    "v1_class": shared.is_pydantic_v1_model_class(Old),
    "v1_instance": encoders.is_pydantic_v1_model_instance(Old(name="a")),
    "v2_class": shared.is_pydantic_v1_model_class(New),
    "annotation": shared.annotation_is_pydantic_v1(list[Old]),
    "replaced": hasattr(shared.is_pydantic_v1_model_class, "__wrapped__"),
}))
"""


def test_the_handler_imports_no_pydantic_v1_and_fastapi_still_recognises_v1_models() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_THE_HANDLER],
        env={
            **os.environ,
            "AUTHAPI_ENVIRONMENT": "test",
            "AUTHAPI_DATABASE_URL": "postgresql://authapi@/authapi?host=/nowhere",
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {
        "cold_start_imported_v1": False,
        "v1_class": True,
        "v1_instance": True,
        "v2_class": False,
        "annotation": True,
        "replaced": True,
    }
