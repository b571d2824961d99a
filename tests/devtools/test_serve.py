"""`make dev` (devtools.serve): uvicorn as it serves the app, on a real socket. A client that
writes X-Forwarded-For must not choose the address it is limited and logged by."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn

from authapi.app import create_app
from authapi.config import Settings
from devtools.local_stack import free_port
from devtools.serve import SERVER_OPTIONS
from tests.support.clock import ManualClock
from tests.support.http import SyncApiClient
from tests.support.logs import log_records

pytestmark = pytest.mark.integration


@pytest.fixture
def served(settings: Settings) -> Iterator[SyncApiClient]:
    """The app under uvicorn with serve's options, login limited to 3 a window; its clock in a
    window of its own, so no other test's hits from 127.0.0.1 count here."""
    clock = ManualClock(
        datetime(2100, 1, 1, tzinfo=UTC) + timedelta(hours=uuid.uuid4().int % 10**6)
    )
    app = create_app(
        settings.model_copy(update={"rate_limit_login": 3, "rate_limit_window_seconds": 3600}),
        clock=clock,
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **SERVER_OPTIONS))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "uvicorn did not start"
    with SyncApiClient.http(f"http://127.0.0.1:{port}") as client:
        yield client
    server.should_exit = True
    thread.join(timeout=10)


def test_rotating_x_forwarded_for_under_uvicorn_changes_nothing(
    served: SyncApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    statuses = [
        served.post(
            "/api/auth/login",
            json={"email": f"user-{attempt}@example.com", "password": "not the password"},
            headers={"X-Forwarded-For": f"198.51.100.{attempt}", "X-Real-IP": "203.0.113.9"},
        ).status
        for attempt in range(5)
    ]

    assert statuses == [401, 401, 401, 429, 429]
    # the server's thread writes a request's access line once the answer is sent: the client
    # can hold the last answer a moment before its line is out
    logged: list[str] = []
    deadline = time.monotonic() + 5
    while len(logged) < 5 and time.monotonic() < deadline:
        logged += [
            record["client_ip"]
            for record in log_records(capsys.readouterr().out)
            if record.get("message") == "request completed"
        ]
        time.sleep(0.02)
    assert logged == ["127.0.0.1"] * 5
