"""Typed errors the rest of the SDK suite never raises, provoked against the real local cloud
through the SDK's public API: the exact class, its status and its stable code."""

from __future__ import annotations

import itertools
import time

import psycopg
import pytest

import authapi_client as sdk
from authapi.config import Settings
from authapi_client import AuthApiClient, MemoryTokenStore, RetryPolicy, Tokens
from tests.sdk.cloud import TIMEOUT
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.db import DedicatedDatabase

pytestmark = pytest.mark.integration

# AUTHAPI_MAX_BODY_BYTES as shipped (the SDK cloud keeps it): a body over it is refused whole
MAX_BODY_BYTES: int = Settings.model_fields["max_body_bytes"].default


def _far_future() -> float:
    return time.time() + 3600  # the SDK sends the stored access token as is, no refresh first


class RefusedTokensStore(MemoryTokenStore):
    """A store that some other process keeps writing refused tokens into: every load holds a
    new garbage access token, so the SDK's one refresh finds "newer" tokens already stored,
    takes them without a request, and its retry is refused too."""

    def __init__(self) -> None:
        super().__init__()
        self._counter = itertools.count()

    def load(self) -> Tokens | None:
        return Tokens(f"garbage-access-{next(self._counter)}", "garbage-refresh", _far_future())


def test_a_missing_oauth_parameter_is_invalid_request(base_url: str) -> None:
    with (
        AuthApiClient(base_url, timeout=TIMEOUT) as client,
        pytest.raises(sdk.InvalidRequest) as missing,
    ):
        client.oauth.token("refresh_token", client_id="default")  # no refresh_token
    assert type(missing.value) is sdk.InvalidRequest
    assert (missing.value.status, missing.value.code) == (400, "invalid_request")


def test_a_body_over_the_service_maximum_is_payload_too_large(base_url: str) -> None:
    with AuthApiClient(base_url, timeout=TIMEOUT) as client:
        with pytest.raises(sdk.PayloadTooLarge) as oversized:
            client.auth.register(unique_email(), "p" * (2 * MAX_BODY_BYTES))
        assert client.tokens is None
    assert type(oversized.value) is sdk.PayloadTooLarge
    assert (oversized.value.status, oversized.value.code) == (413, "payload_too_large")


def test_an_access_token_refused_after_the_refresh_is_invalid_token(base_url: str) -> None:
    with (
        AuthApiClient(base_url, timeout=TIMEOUT, store=RefusedTokensStore()) as client,
        pytest.raises(sdk.InvalidToken) as refused,
    ):
        client.sessions.list()
    assert type(refused.value) is sdk.InvalidToken
    assert (refused.value.status, refused.value.code) == (401, "invalid_token")


def test_an_unknown_path_is_not_found(base_url: str) -> None:
    with AuthApiClient(base_url, timeout=TIMEOUT) as client:
        registered = client.auth.register(unique_email(), STRONG_PASSWORD)
        assert isinstance(registered, sdk.SignedIn)
        with pytest.raises(sdk.NotFound) as nowhere:
            client.sessions.revoke("no/such/path")  # a slash: past every route
    assert type(nowhere.value) is sdk.NotFound
    assert (nowhere.value.status, nowhere.value.code) == (404, "not_found")


def test_a_refresh_whose_rows_stay_locked_is_refresh_in_progress(
    base_url: str, sdk_database: DedicatedDatabase
) -> None:
    # another refresh of the session holding its rows past AUTHAPI_REFRESH_LOCK_TIMEOUT_MS, as
    # a transaction of our own holding them: the 503 says retry, and nothing was spent
    with AuthApiClient(base_url, timeout=TIMEOUT, retry=RetryPolicy(attempts=1)) as client:
        registered = client.auth.register(unique_email(), STRONG_PASSWORD)
        assert isinstance(registered, sdk.SignedIn)
        (session,) = client.sessions.list()
        with psycopg.connect(sdk_database.dsn) as holder:
            holder.execute(
                "SELECT id FROM refresh_tokens WHERE session_id = %s FOR UPDATE", (session.id,)
            )
            with pytest.raises(sdk.RefreshInProgress) as busy:
                client.auth.refresh()
            holder.rollback()
        assert client.tokens == registered.tokens  # kept: the token was not spent
        client.auth.refresh()  # the lock gone, the same token refreshes
    assert type(busy.value) is sdk.RefreshInProgress
    assert (busy.value.status, busy.value.code) == (503, "refresh_in_progress")
