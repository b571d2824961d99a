"""`make run`'s local cloud, as a user runs it: a process serving the Lambda handler over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

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
    process = subprocess.Popen(
        [sys.executable, "-m", "devtools.local_cloud", "--port", str(port)],
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
