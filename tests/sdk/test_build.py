"""`make sdk-build`'s wheel and sdist, and the wheel installed into a fresh virtualenv: the SDK
stands alone (httpx from the registry, nothing of the service)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from devtools.tiers import all_tiers_required, find_tool
from tests.support.local_cloud import REPO

SDK = REPO / "sdk/python"
# what an installer prints when it cannot reach the package registry
OFFLINE = (
    "Failed to establish a new connection",
    "Network is unreachable",
    "Temporary failure",
    "Could not connect",
    "dns error",
    "failed to lookup address",
)
IMPORT_CHECK = """
import sys, authapi_client
from authapi_client import AsyncAuthApiClient, AuthApiClient, TooManyAttempts, FileTokenStore
from importlib.resources import files
assert files("authapi_client").joinpath("py.typed").is_file()
assert "authapi" not in sys.modules  # the SDK never imports the service
print(authapi_client.__version__)
"""


def _run(command: list[str], **options: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=300, **options)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    built = _run([sys.executable, "-m", "build", "--outdir", str(out), str(SDK)])
    if built.returncode != 0 and any(sign in built.stdout + built.stderr for sign in OFFLINE):
        _offline(built)
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def _offline(result: subprocess.CompletedProcess[str]) -> None:
    message = "the package registry is unreachable: " + (result.stderr or result.stdout)[-300:]
    if all_tiers_required():
        pytest.fail(message)
    pytest.skip(message)


def test_the_wheel_and_sdist_hold_the_package(dist: Path) -> None:
    (wheel,) = dist.glob("authapi_client-*-py3-none-any.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"authapi_client/py.typed", "authapi_client/errors_generated.py"} <= names
    (sdist,) = dist.glob("authapi_client-*.tar.gz")
    with tarfile.open(sdist) as archive:
        members = {
            Path(name).relative_to(Path(name).parts[0]).as_posix()
            for name in archive.getnames()
            if "/" in name
        }
    assert {"pyproject.toml", "README.md", "src/authapi_client/client.py"} <= members


def test_the_wheel_installs_into_a_fresh_venv_and_imports(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("authapi_client-*-py3-none-any.whl")
    venv = tmp_path / "venv"
    python = venv / "bin/python"
    uv = find_tool("uv") or next(iter((REPO / ".venv-lock/bin").glob("uv")), None)
    environment = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    if uv is not None:
        created = _run([str(uv), "venv", "--python", sys.executable, str(venv)], env=environment)
        assert created.returncode == 0, created.stderr
        install = [str(uv), "pip", "install", "--python", str(python), str(wheel)]
    else:
        created = _run([sys.executable, "-m", "venv", str(venv)], env=environment)
        assert created.returncode == 0, created.stderr
        install = [str(python), "-m", "pip", "install", "--quiet", str(wheel)]
    installed = _run(install, env=environment)
    if installed.returncode != 0 and any(s in installed.stdout + installed.stderr for s in OFFLINE):
        _offline(installed)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    # run from elsewhere: nothing of this checkout on the path, only the installed wheel
    imported = _run([str(python), "-c", IMPORT_CHECK], cwd=tmp_path, env=environment)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "0.1.0"
