"""What the sync and async transports share: the request a `Call` becomes, when a token needs
refreshing, what an answer means. No I/O here: `sync_transport` and `async_transport` hold the
control flow (retries, the single-flight refresh), each in its own concurrency model."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import quote

import httpx

from authapi_client.calls import API, Answer, Call
from authapi_client.errors import AuthApiError, NotSignedInError
from authapi_client.models import StepUp, Tokens
from authapi_client.problems import error_from_response, retry_after_seconds
from authapi_client.retry import DEFAULT_REFRESH_REUSE_INTERVAL, RetryPolicy
from authapi_client.tokens import TokenStore
from authapi_client.version import __version__

T = TypeVar("T")
# never a token, a password or a body: a method, a path, a status, a count
logger = logging.getLogger("authapi_client")
USER_AGENT = f"authapi-client/{__version__}"


@dataclass
class Settings:
    """How a client behaves; the same for its sync and async forms."""

    store: TokenStore
    retry: RetryPolicy
    # refresh this long before the access token expires (a call never leaves with one that
    # would expire on the way)
    refresh_margin: float = 30.0
    # the server's AUTHAPI_REFRESH_REUSE_INTERVAL_SECONDS: a refresh whose answer was lost may
    # present its token again this long after, and gets the same successor; a refresh request
    # times out within half of it (retry.refresh_timeout), leaving time to present it again
    refresh_reuse_interval: float = DEFAULT_REFRESH_REUSE_INTERVAL
    clock: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic

    def tokens(self) -> Tokens:
        tokens = self.store.load()
        if tokens is None:
            raise NotSignedInError("no tokens in the store: log in first")
        return tokens

    def expiring(self, tokens: Tokens) -> bool:
        # at most half the token's life: a token living no longer than the margin would read
        # as expiring the moment it arrived, and every call would refresh it again
        margin = self.refresh_margin
        if tokens.expires_in is not None:
            margin = min(margin, tokens.expires_in / 2)
        return self.clock() >= tokens.expires_at - margin

    def stepped_up(self, step_up: StepUp) -> Tokens:
        """The stored tokens with a step-up's access token (same session, same refresh token);
        the caller holds the refresh's locks, so that the refresh token read is the current one."""
        current = self.tokens()
        expires_at = self.clock() + step_up.expires_in
        return Tokens(step_up.access_token, current.refresh_token, expires_at, step_up.expires_in)


def build_request(
    http: httpx.Client | httpx.AsyncClient,
    call: Call[T],
    access_token: str | None,
    timeout: httpx.Timeout | None = None,
) -> httpx.Request:
    headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
    if access_token is not None:
        headers["Authorization"] = f"Bearer {access_token}"
    if call.client_auth is not None:
        # RFC 6749 section 2.3.1: id and secret form-encoded, then Basic
        client_id, secret = (quote(part, safe="") for part in call.client_auth)
        encoded = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        headers["Authorization"] = f"Basic {encoded}"
    # a relative path: httpx puts it under the base URL's own path (a tenant's /t/acme)
    return http.build_request(
        call.method,
        API.lstrip("/") + call.path,
        json=call.json,
        data=call.form,
        params=call.params,
        headers=headers,
        # None: the client's own
        timeout=timeout if timeout is not None else http.timeout,
    )


def rejected_token(response: httpx.Response) -> bool:
    """A 401 `invalid_token`: the access token was refused (expired early, key rotated, the
    session refreshed elsewhere); one refresh and one more try may fix it."""
    if response.status_code != 401:
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return False
    return isinstance(body, dict) and body.get("code") == "invalid_token"


def error_of(response: httpx.Response, *, now: float) -> AuthApiError:
    return error_from_response(response.status_code, response.headers, response.content, now=now)


def retry_after(response: httpx.Response, *, now: float) -> float | None:
    return retry_after_seconds(response.headers, now=now)


def finish(settings: Settings, call: Call[T], response: httpx.Response, received_at: float) -> T:
    """The call's result from its answer, or its error raised; the store updated."""
    if response.is_error:
        raise error_of(response, now=received_at)
    result = call.read(Answer(response, received_at))
    if call.keeps is not None and (tokens := call.keeps(result)) is not None:
        settings.store.save(tokens)
    if call.signs_out:
        settings.store.clear()
    return result


def describe(call: Call[T]) -> str:
    return f"{call.method} {API}{call.path}"
