"""Under /api/v1/oauth/ every error of ours is an RFC 6749 section 5.2 body, with the status that
section prescribes; elsewhere problem+json, as before."""

from __future__ import annotations

import json

import pytest

from authapi.exceptions import (
    AuthApiError,
    CrossSiteRequestError,
    DatabaseUnavailableError,
    InvalidClientError,
    InvalidCredentialsError,
    InvalidRefreshTokenError,
    MfaRequiredError,
    NotFoundError,
    PayloadTooLargeError,
    RefreshInProgressError,
    RefreshTokenReusedError,
    TooManyAttemptsError,
    UnsupportedGrantTypeError,
    UnsupportedMediaTypeError,
)
from authapi.problems import oauth_error, problem_response

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (InvalidRefreshTokenError(), ("invalid_grant", 400)),
        (RefreshTokenReusedError(), ("invalid_grant", 400)),
        (InvalidCredentialsError(), ("invalid_grant", 400)),
        (MfaRequiredError(), ("invalid_grant", 400)),
        (UnsupportedGrantTypeError(), ("unsupported_grant_type", 400)),
        (InvalidClientError(through_header=True), ("invalid_client", 401)),
        (InvalidClientError(through_header=False), ("invalid_client", 400)),
        (UnsupportedMediaTypeError(), ("invalid_request", 400)),
        (PayloadTooLargeError(), ("invalid_request", 400)),
        (CrossSiteRequestError(), ("invalid_request", 400)),
        (NotFoundError(), ("invalid_request", 404)),
        (TooManyAttemptsError(retry_after_seconds=7), ("temporarily_unavailable", 429)),
        (RefreshInProgressError(), ("temporarily_unavailable", 503)),
        (DatabaseUnavailableError(), ("temporarily_unavailable", 503)),
        (AuthApiError(), ("server_error", 500)),
    ],
)
def test_each_error_maps_to_rfc_6749(error: AuthApiError, expected: tuple[str, int]) -> None:
    assert oauth_error(error) == expected


def test_the_body_keeps_our_code_and_the_headers_that_still_apply() -> None:
    reused = problem_response(RefreshTokenReusedError(), path="/api/v1/oauth/token")
    assert reused.status_code == 400
    assert reused.media_type == "application/json"
    body = json.loads(bytes(reused.body))
    assert set(body) == {"error", "error_description", "code", "request_id"}
    assert (body["error"], body["code"]) == ("invalid_grant", "refresh_token_reused")
    assert "www-authenticate" not in reused.headers  # a Bearer challenge on a 400 misleads
    assert reused.headers["cache-control"] == "no-store"
    busy = problem_response(RefreshInProgressError(), path="/api/v1/oauth/token")
    assert busy.headers["retry-after"] == "1"
    basic = problem_response(InvalidClientError(through_header=True), path="/api/v1/oauth/revoke")
    assert basic.headers["www-authenticate"].startswith("Basic")
    elsewhere = problem_response(RefreshTokenReusedError(), path="/api/v1/auth/refresh-token")
    assert elsewhere.media_type == "application/problem+json"
    assert elsewhere.status_code == 401
