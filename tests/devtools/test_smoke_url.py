"""The smoke session the deploy workflow runs against dev (`make smoke-url`): what it sends, and
that a wrong answer fails the run, naming the step."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from devtools.smoke_flow import SmokeFailed, run_session
from devtools.smoke_url import http_send, simulator_address

pytestmark = pytest.mark.unit


def token(sid: str) -> str:
    claims = base64.urlsafe_b64encode(json.dumps({"sid": sid}).encode()).decode().rstrip("=")
    return f"h.{claims}.s"


class ScriptedApi:
    """Answers each step as a healthy API would, except the paths told to fail."""

    def __init__(self, failing: dict[str, int] | None = None) -> None:
        self.failing = failing or {}
        self.calls: list[tuple[str, str, Any, str | None]] = []
        self.logged_out: set[str] = set()

    def send(self, method: str, path: str, body: Any, bearer: str | None) -> tuple[int, bytes]:
        self.calls.append((method, path, body, bearer))
        if path in self.failing:
            return self.failing[path], b'{"code": "boom"}'
        if path.endswith("/register"):
            answer = {"user": {"id": "u1"}, "access_token": token("s-register")}
            return 201, json.dumps(answer).encode()
        if path.endswith("/login"):
            answer = {"access_token": token("s-login"), "refresh_token": "rt_1"}
            return 200, json.dumps(answer).encode()
        if path.endswith("/refresh-token"):
            return 200, json.dumps(
                {"access_token": "after-refresh", "refresh_token": "rt_2"}
            ).encode()
        if path.endswith("/logout"):
            self.logged_out.add(str(bearer))
            return 204, b""
        if path.endswith("/me"):
            if bearer in self.logged_out:
                return 401, b"{}"
            return 200, json.dumps({"email": self.calls[0][2]["email"]}).encode()
        if path.endswith("/me/delete"):
            return 204, b""
        return 404, b""


def test_a_wrong_answer_fails_the_run_naming_the_step() -> None:
    api = ScriptedApi(failing={"/api/auth/login": 500})
    with pytest.raises(SmokeFailed, match="login answered 500, expected 200"):
        run_session(api.send)


def test_the_account_is_deleted_with_the_registrations_own_session() -> None:
    api = ScriptedApi()
    email = simulator_address()
    assert run_session(api.send, email=email, delete_account=True) == email
    assert email.endswith("@simulator.amazonses.com")
    assert email.startswith("success+")
    steps = [(method, path) for method, path, _, _ in api.calls]
    assert steps == [
        ("POST", "/api/auth/register"),
        ("POST", "/api/auth/login"),
        ("GET", "/api/auth/me"),
        ("POST", "/api/auth/refresh-token"),
        ("POST", "/api/auth/logout"),
        ("GET", "/api/auth/me"),
        ("POST", "/api/v1/auth/me/delete"),
    ]
    _, _, body, bearer = api.calls[-1]
    assert bearer == token("s-register")  # the logout ended the login's session, not this one
    assert set(body) == {"password"}


def test_a_refused_deletion_fails_the_run() -> None:
    api = ScriptedApi(failing={"/api/v1/auth/me/delete": 401})
    with pytest.raises(SmokeFailed, match="delete the account answered 401"):
        run_session(api.send, delete_account=True)


def test_only_http_urls_are_sent_to() -> None:
    with pytest.raises(ValueError, match="no http"):
        http_send("file:///etc/passwd")
