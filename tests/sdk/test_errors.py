"""The SDK's error classes against the service's OpenAPI: no documented code goes without one."""

from __future__ import annotations

import json
from typing import Any

import pytest

from authapi_client import errors, errors_generated
from authapi_client.problems import error_from_response
from devtools import sdk_errors

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return sdk_errors.service_openapi()


def _enums(openapi: dict[str, Any], field: str) -> set[str]:
    """Every value of `field`'s machine-readable enum, in any error response of any path."""
    found: set[str] = set()
    for item in openapi["paths"].values():
        for operation in item.values():
            for response in operation["responses"].values():
                for content in response.get("content", {}).values():
                    for part in content.get("schema", {}).get("allOf", []):
                        found.update(part.get("properties", {}).get(field, {}).get("enum", []))
    return found


def test_every_code_the_api_documents_has_its_class(openapi: dict[str, Any]) -> None:
    codes = _enums(openapi, "code")
    assert {"invalid_credentials", "refresh_token_reused", "too_many_attempts"} <= codes
    assert codes - set(errors_generated.CODE_CLASSES) == set(), "make sdk-errors"
    for code in codes:
        assert issubclass(errors_generated.CODE_CLASSES[code], errors.AuthApiError)


def test_every_rfc_6749_error_the_oauth_endpoints_document_maps(openapi: dict[str, Any]) -> None:
    oauth_errors = _enums(openapi, "error")
    assert {"invalid_grant", "invalid_client", "temporarily_unavailable"} <= oauth_errors
    by_status = set(sdk_errors.BY_STATUS_OAUTH_ERRORS)
    assert oauth_errors - set(errors_generated.OAUTH_ERRORS) - by_status == set()


def test_the_generated_file_is_what_the_openapi_gives() -> None:
    assert sdk_errors.main(["--check"]) == 0, "make sdk-errors"


def test_the_classes_sit_under_their_status_family() -> None:
    generated = errors_generated
    assert issubclass(generated.InvalidCredentials, errors.AuthenticationError)
    assert issubclass(generated.RefreshTokenReused, errors.AuthenticationError)
    assert issubclass(generated.TooManyAttempts, errors.RateLimitedError)
    assert issubclass(generated.DatabaseUnavailable, errors.ServiceUnavailableError)
    assert issubclass(generated.EmailTaken, errors.ConflictError)
    assert issubclass(errors.ServiceUnavailableError, errors.ServerError)


def _error(status: int, body: object, **headers: str) -> errors.AuthApiError:
    return error_from_response(status, headers, json.dumps(body).encode(), now=0.0)


def test_an_answer_becomes_its_class_with_every_field() -> None:
    raised = _error(
        429,
        {
            "type": "urn:authapi:problem:too_many_attempts",
            "title": "Too many attempts",
            "status": 429,
            "detail": "Too many attempts. Try again later.",
            "code": "too_many_attempts",
            "request_id": "req-1",
        },
        **{"retry-after": "7"},
    )
    assert type(raised) is errors_generated.TooManyAttempts
    assert (raised.status, raised.code, raised.title, raised.request_id) == (
        429,
        "too_many_attempts",
        "Too many attempts",
        "req-1",
    )
    assert raised.retry_after == 7.0
    assert (
        str(raised) == "429 too_many_attempts: Too many attempts. Try again later. (request req-1)"
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (401, errors.AuthenticationError),
        (403, errors.ForbiddenError),
        (418, errors.ClientError),
        (503, errors.ServiceUnavailableError),
        (504, errors.ServerError),
    ],
)
def test_an_unknown_code_maps_to_the_base_of_its_status(
    status: int, expected: type[errors.AuthApiError]
) -> None:
    raised = _error(status, {"code": "brand_new_code", "detail": "new"})
    assert type(raised) is expected
    assert raised.code == "brand_new_code"


def test_an_oauth_answer_maps_by_code_then_by_its_rfc_6749_error() -> None:
    known = _error(400, {"error": "invalid_grant", "code": "refresh_token_reused"})
    assert type(known) is errors_generated.RefreshTokenReused
    assert known.oauth_error == "invalid_grant"
    unknown = _error(400, {"error": "invalid_grant", "error_description": "x", "code": "new"})
    assert type(unknown) is errors_generated.InvalidGrant
    assert unknown.detail == "x"


def test_a_gateway_answer_without_a_problem_maps_by_status() -> None:
    raised = error_from_response(
        500, {"x-request-id": "gw-1"}, b'{"message": "Internal Server Error"}', now=0.0
    )
    assert type(raised) is errors.ServerError
    assert (raised.code, raised.request_id) == ("http_500", "gw-1")


def _statuses(openapi: dict[str, Any]) -> dict[str, dict[int, bool]]:
    """For each documented code, each status it is answered with, and whether an OAuth
    endpoint answers it so (RFC 6749 puts most of its errors in a 400)."""
    found: dict[str, dict[int, bool]] = {}
    for path, item in openapi["paths"].items():
        oauth = path.startswith("/api/v1/oauth/")
        for operation in item.values():
            for status, response in operation["responses"].items():
                for content in response.get("content", {}).values():
                    for part in content.get("schema", {}).get("allOf", []):
                        for code in part.get("properties", {}).get("code", {}).get("enum", []):
                            by_status = found.setdefault(code, {})
                            by_status[int(status)] = by_status.get(int(status), True) and oauth
    return found


def test_every_generated_class_is_what_its_answers_map_to_in_their_status_family(
    openapi: dict[str, Any],
) -> None:
    statuses = _statuses(openapi)
    for code, error_class in errors_generated.CODE_CLASSES.items():
        assert statuses.get(code), f"{code}: generated, but no answer documents it"
        for status, only_oauth in statuses[code].items():
            raised = _error(status, {"code": code, "status": status})
            assert type(raised) is error_class, (code, status)
            family = errors.ClientError if status < 500 else errors.ServerError
            assert isinstance(raised, family), (code, status)
            if not only_oauth:  # problem+json: under the base of its exact status
                assert isinstance(raised, errors.status_base(status)), (code, status)
