"""Expand and contract: the code that served before the newest migration still works on the
schema after it. A deploy migrates first (the PreTraffic hook) and shifts traffic after, so for a
while the previous code serves the new schema: a migration that breaks it cannot ship.

The previous code is the newest release tag (`v*`) once there is one; until then, the commit
before the one that added the newest migration. It runs a whole session, in a process of its
own, as the app's database role, on this session's database (migrated to head).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from io import BytesIO
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from tests.support.db import ScratchDatabase

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = "functions/authapi/migrations/versions"
FLOW = ROOT / "tests" / "support" / "previous_code_flow.py"
EXPECTED = {
    "register": 201,
    "login": 200,
    "me": 200,
    "refresh": 200,
    "logout": 204,
    "me after logout": 401,
}


GIT = shutil.which("git") or "git"


def _git(*args: str) -> str:
    return subprocess.run(
        [GIT, "-C", str(ROOT), *args], capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


MAX_COMMITS_BACK = 30


def previous_code_candidates() -> list[str]:
    """The commits whose code the newest migration must not break, best first."""
    tags = _git("tag", "--list", "v*", "--sort=-creatordate").splitlines()
    if tags:
        return [_git("rev-parse", f"{tags[0]}^{{commit}}")]
    newest_migration = _git("log", "-1", "--format=%H", "--", MIGRATIONS)
    return _git(
        "rev-list", "--first-parent", f"--max-count={MAX_COMMITS_BACK}", f"{newest_migration}^"
    ).splitlines()


def _extract(commit: str, target: Path) -> Path:
    archive = subprocess.run(
        [GIT, "-C", str(ROOT), "archive", "--format=tar", commit, "functions/authapi"],
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return target / "functions"


def _imports(package: Path) -> bool:
    environment = {**os.environ, "PYTHONPATH": str(package), "AUTHAPI_ENVIRONMENT": "test"}
    check = [sys.executable, "-P", "-c", "import authapi.app"]
    return subprocess.run(check, env=environment, capture_output=True, timeout=60).returncode == 0


@pytest.fixture(scope="module")
def previous_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        candidates = previous_code_candidates()
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        # a shallow clone or an export without history: nothing to compare with
        pytest.skip(f"no git history to find the previous code in: {error}")
    for commit in candidates:
        package = _extract(commit, tmp_path_factory.mktemp(f"previous-{commit[:10]}"))
        if _imports(package):
            return package
    raise AssertionError(f"none of {len(candidates)} commits before the newest migration imports")


def test_the_previous_code_serves_a_whole_session_on_the_new_schema(
    previous_package: Path, test_database: ScratchDatabase
) -> None:
    # as in AWS: the app's role, which may touch rows and nothing else
    # straight to the database: a PgBouncer run would log in as its own user, not the app role
    direct = make_url(test_database.direct_url or test_database.url)
    # a plain postgresql:// URL: every release's settings take it, whichever driver it names
    as_app = direct.set(drivername="postgresql", username=f"{test_database.role_prefix}_app")
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("AUTHAPI_")},
        "PYTHONPATH": str(previous_package),
        "AUTHAPI_ENVIRONMENT": "test",
        "AUTHAPI_DATABASE_URL": as_app.render_as_string(hide_password=False),
        "AUTHAPI_LOG_LEVEL": "ERROR",
        "AUTHAPI_RATE_LIMIT_REGISTER": "1000000",
        "AUTHAPI_RATE_LIMIT_LOGIN": "1000000",
        "AUTHAPI_RATE_LIMIT_REFRESH": "1000000",
    }
    result = subprocess.run(
        # -P: the script's folder (tests/support, whose http.py would shadow the stdlib's) stays
        # off the path, so PYTHONPATH's old package comes first
        [sys.executable, "-P", str(FLOW)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["authapi"].startswith(str(previous_package)), "ran the current code instead"
    assert report["statuses"] == EXPECTED
