"""pyotp and segno load only when an MFA endpoint needs them (issue 14: cold start): importing
and building the app, its OpenAPI document included, loads neither; the first TOTP use does."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

PROBE = """
import json, sys
from authapi.app import create_app
from authapi.config import Settings
import authapi.handlers.api
create_app(Settings(environment="test")).openapi()
loaded = {"app": [m for m in ("pyotp", "segno") if m in sys.modules]}
from authapi.mfa import totp
totp.qr_svg(totp.provisioning_uri(totp.new_secret(), account="a@example.com", issuer="t"))
loaded["mfa"] = [m for m in ("pyotp", "segno") if m in sys.modules]
print(json.dumps(loaded))
"""


def test_the_app_loads_no_totp_library_until_mfa_runs() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == {"app": [], "mfa": ["pyotp", "segno"]}
