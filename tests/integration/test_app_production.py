"""Production mode: no docs, and a crash says nothing about the internals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from authapi.app import create_app
from authapi.config import Settings
from authapi.key_material import generate_data_key_entry
from tests.support.accounts import register
from tests.support.http import ApiClient, serving
from tests.support.logs import log_records

pytestmark = pytest.mark.integration

SECRET_IN_ERROR = "db-password-Zq9 at /srv/secret/path.py"


def _production_settings(settings: Settings, **overrides: object) -> Settings:
    return Settings.model_validate(
        {
            **settings.model_dump(),
            "environment": "production",
            "database_url": settings.database_url,
            "jwt_private_key": settings.jwt_private_key,
            "data_keys": generate_data_key_entry(),
            "trusted_hosts": ["testserver"],  # the ASGI client's host
            **overrides,
        }
    )


@pytest.fixture
async def production(settings: Settings) -> AsyncIterator[ApiClient]:
    """A client of the app in production mode, with a route that crashes."""
    app = create_app(_production_settings(settings))

    async def explode() -> None:
        raise RuntimeError(SECRET_IN_ERROR)

    app.add_api_route("/explode", explode)
    async with serving(app) as client:
        yield client


async def test_docs_and_schema_are_off(production: ApiClient) -> None:
    assert (await production.get("/docs")).status == 404
    assert (await production.get("/openapi.json")).status == 404


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/v1/auth/login"])
async def test_the_login_form_is_refused_while_the_password_grant_is_off(
    production: ApiClient, settings: Settings, path: str
) -> None:
    account = await register(production)
    form = {"username": account.email, "password": account.password}
    refused = await production.post(path, data=form)
    assert (refused.status, refused.code) == (415, "unsupported_media_type")
    assert (await production.post(path, json=account.credentials)).status == 200
    async with serving(create_app(_production_settings(settings, oauth_password_grant=True))) as on:
        assert (await on.post(path, data=form)).status == 200


async def test_docs_are_on_in_development_and_test(client: ApiClient) -> None:
    assert (await client.get("/docs")).status == 200
    assert (await client.get("/openapi.json")).status == 200


async def test_a_500_leaks_nothing_and_is_logged_once(
    production: ApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = await production.get("/explode", headers={"X-Request-ID": "boom-1"})

    assert response.status == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.body
    assert body == {
        "type": "urn:authapi:problem:internal_error",
        "title": "Internal server error",
        "status": 500,
        "detail": "The server could not complete the request.",
        "code": "internal_error",
        "request_id": "boom-1",
    }
    assert "RuntimeError" not in response.text
    assert "Zq9" not in response.text

    errors = [line for line in log_records(capsys.readouterr().out) if line.get("level") == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "boom-1"
    assert errors[0]["exception_name"] == "RuntimeError"
    assert "explode" in str(errors[0]["exception"])  # the stack trace, for the operator


async def test_openapi_documents_bearer_auth_and_problem_codes(client: ApiClient) -> None:
    schema = (await client.get("/openapi.json")).body

    scheme = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/auth/login"
    register = schema["paths"]["/api/v1/auth/register"]["post"]
    assert "email_taken" in register["responses"]["409"]["description"]
    login_body = schema["paths"]["/api/v1/auth/login"]["post"]["requestBody"]["content"]
    assert set(login_body) == {"application/json", "application/x-www-form-urlencoded"}
    assert "Problem" in schema["components"]["schemas"]


def _codes(response: dict[str, Any]) -> list[str]:
    schema = response["content"]["application/problem+json"]["schema"]
    (narrowed,) = [part for part in schema["allOf"] if "properties" in part]
    return list(narrowed["properties"]["code"]["enum"])


async def test_every_problem_response_lists_its_codes_as_an_enum(client: ApiClient) -> None:
    schema = (await client.get("/openapi.json")).body
    paths = schema["paths"]

    problem_responses = [
        (path, method, status, response)
        for path, item in paths.items()
        for method, operation in item.items()
        for status, response in operation["responses"].items()
        if "application/problem+json" in response.get("content", {})
    ]
    assert len(problem_responses) > 20
    for path, method, status, response in problem_responses:
        codes = _codes(response)
        assert codes, (path, method, status)
        # the prose says the same as the machine-readable list
        assert all(f"`{code}`" in response["description"] for code in codes)
    refresh = paths["/api/v1/auth/refresh-token"]["post"]["responses"]
    assert "refresh_in_progress" in _codes(refresh["503"])
    assert set(_codes(refresh["401"])) >= {"invalid_refresh_token", "refresh_token_reused"}
    delete = paths["/api/v1/auth/sessions/{session_id}"]["delete"]["responses"]
    assert _codes(delete["404"]) == ["session_not_found"]


async def test_openapi_documents_the_oauth_endpoints_with_rfc_6749_errors(
    client: ApiClient,
) -> None:
    schema = (await client.get("/openapi.json")).body
    assert "OAuthError" in schema["components"]["schemas"]
    for path in ("/api/v1/oauth/token", "/api/v1/oauth/revoke", "/api/v1/oauth/introspect"):
        operation = schema["paths"][path]["post"]
        assert set(operation["requestBody"]["content"]) == {"application/x-www-form-urlencoded"}
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert set(response["content"]) == {"application/json"}, (path, status)
    token = schema["paths"]["/api/v1/oauth/token"]["post"]["responses"]
    errors = token["400"]["content"]["application/json"]["schema"]["allOf"][1]["properties"]
    assert {"invalid_grant", "invalid_request", "unsupported_grant_type", "invalid_client"} <= set(
        errors["error"]["enum"]
    )
    assert "refresh_token_reused" in errors["code"]["enum"]
    assert {"401", "429", "503"} <= set(token)
