"""`make run`'s local cloud, as a user runs it: a process serving the Lambda handler over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from devtools.local_stack import free_port
from tests.support import STRONG_PASSWORD, ScratchDatabase, unique_email

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def local_cloud(test_database: ScratchDatabase) -> Iterator[str]:
    port = free_port()
    environment = {
        **os.environ,
        "AUTHAPI_DATABASE_URL": test_database.url,
        # the session's database has roles of its own; the migration handler grants to them
        "AUTHAPI_DB_ROLE_PREFIX": test_database.role_prefix,
    }
    # the scheduler's stand-in every second instead of every minute, so a test can watch it
    command = ["-m", "devtools.local_cloud", "--port", str(port), "--maintenance-every", "1"]
    process = subprocess.Popen(
        [sys.executable, *command],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"local cloud did not start: {process.communicate()[0][-2000:]}")
    yield base
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=20)


def test_a_session_through_the_local_cloud(local_cloud: str) -> None:
    email = unique_email()
    with httpx.Client(base_url=local_cloud, timeout=10) as client:
        registered = client.post(
            "/api/auth/register", json={"email": email, "password": STRONG_PASSWORD}
        )
        assert registered.status_code == 201
        # the API Gateway stand-in's request id reaches the client, as in AWS
        assert registered.headers["x-request-id"].endswith("=")
        form = client.post("/api/auth/login", data={"username": email, "password": STRONG_PASSWORD})
        assert form.status_code == 200
        tokens = form.json()
        me = client.get(
            "/api/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.json()["email"] == email
        refreshed = client.post(
            "/api/auth/refresh-token", json={"refresh_token": tokens["refresh_token"]}
        )
        assert refreshed.status_code == 200
        logout = client.post(
            "/api/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert logout.status_code == 204
        assert client.get("/docs").status_code == 200


def test_errors_come_back_as_problems(local_cloud: str) -> None:
    response = httpx.post(
        local_cloud + "/api/auth/login",
        content=b"{oops",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_the_local_cloud_runs_the_maintenance_function_on_a_schedule(
    local_cloud: str, test_database: ScratchDatabase
) -> None:
    key = uuid.uuid4().hex * 2  # the size of a real bucket key
    # a bucket whose window ended long ago: the next run deletes it
    await test_database.execute(
        "INSERT INTO rate_limit_buckets (key, window_start, hits) VALUES ($1, $2, 1)",
        key,
        datetime(2020, 1, 1, tzinfo=UTC),
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        left = await test_database.fetchval(
            "SELECT count(*) FROM rate_limit_buckets WHERE key = $1", key
        )
        if left == 0:
            break
        await asyncio.sleep(0.2)
    assert left == 0, "no maintenance run deleted the ended bucket"
