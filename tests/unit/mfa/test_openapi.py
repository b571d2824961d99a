"""The OpenAPI document states MFA's answers (issue 14): the login's 202 challenge, the step-up
refusal on every action that needs one, and which endpoints refuse an enrol-only token."""

from __future__ import annotations

from typing import Any

import pytest

from authapi.app import create_app
from authapi.config import Settings

pytestmark = pytest.mark.unit

V1 = "/api/v1/auth"


@pytest.fixture(scope="module")
def paths() -> dict[str, Any]:
    return dict(create_app(Settings(_env_file=None, environment="test")).openapi()["paths"])


def _codes(paths: dict[str, Any], path: str, status: str) -> list[str]:
    response = paths[path]["post" if "post" in paths[path] else "get"]["responses"][status]
    schema = response["content"]["application/problem+json"]["schema"]
    return list(schema["allOf"][1]["properties"]["code"]["enum"])


@pytest.mark.parametrize("path", ["password/change", "email/change", "me/delete", "mfa/disable"])
def test_actions_that_need_a_recent_second_factor_document_mfa_required(
    paths: dict[str, Any], path: str
) -> None:
    assert "mfa_required" in _codes(paths, f"{V1}/{path}", "403")


def test_login_documents_the_202_challenge(paths: dict[str, Any]) -> None:
    for login in (f"{V1}/login", "/api/auth/login"):
        accepted = paths[login]["post"]["responses"]["202"]
        schema = accepted["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/MfaChallengeOut"), login


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ("me", True),
        ("sessions", True),
        ("logout", True),
        ("password/change", True),
        ("mfa/step-up", True),
        ("mfa/totp", False),
        ("mfa/totp/verify", False),
    ],
)
def test_bearer_endpoints_say_whether_they_refuse_an_enrol_only_token(
    paths: dict[str, Any], path: str, refused: bool
) -> None:
    responses = paths[f"{V1}/{path}"].get("post", paths[f"{V1}/{path}"].get("get"))["responses"]
    codes = _codes(paths, f"{V1}/{path}", "403") if "403" in responses else []
    assert ("mfa_enrolment_required" in codes) is refused
