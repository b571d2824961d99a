"""Production mode: no docs, and a crash says nothing about the internals."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi import FastAPI

from authapi.app import create_app
from authapi.config import Settings
from tests.support import client_for

pytestmark = pytest.mark.integration

SECRET_IN_ERROR = "db-password-Zq9 at /srv/secret/path.py"


@pytest.fixture
def production_app(settings: Settings) -> FastAPI:
    production = Settings.model_validate(
        {
            **settings.model_dump(),
            "environment": "production",
            "database_url": settings.database_url,
            "jwt_private_key": settings.jwt_private_key,
        }
    )
    app = create_app(production)

    async def explode() -> None:
        raise RuntimeError(SECRET_IN_ERROR)

    app.add_api_route("/explode", explode)
    return app


async def test_docs_and_schema_are_off(production_app: FastAPI) -> None:
    async with client_for(production_app) as client:
        assert (await client.get("/docs")).status_code == 404
        assert (await client.get("/openapi.json")).status_code == 404


async def test_docs_are_on_in_development_and_test(client: httpx.AsyncClient) -> None:
    assert (await client.get("/docs")).status_code == 200
    assert (await client.get("/openapi.json")).status_code == 200


async def test_a_500_leaks_nothing_and_is_logged_once(
    production_app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    async with client_for(production_app) as client:
        response = await client.get("/explode", headers={"X-Request-ID": "boom-1"})

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
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

    lines = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]
    errors = [line for line in lines if line.get("level") == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["request_id"] == "boom-1"
    assert errors[0]["exception_name"] == "RuntimeError"
    assert "explode" in str(errors[0]["exception"])  # the stack trace, for the operator


async def test_openapi_documents_bearer_auth_and_problem_codes(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()

    scheme = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/auth/login"
    register = schema["paths"]["/api/auth/register"]["post"]
    assert "email_taken" in register["responses"]["409"]["description"]
    login_body = schema["paths"]["/api/auth/login"]["post"]["requestBody"]["content"]
    assert set(login_body) == {"application/json", "application/x-www-form-urlencoded"}
    assert "Problem" in schema["components"]["schemas"]
