"""The sync client's transport: retries, and the single-flight refresh across threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import httpx

from authapi_client import calls
from authapi_client.calls import Call
from authapi_client.errors import AuthApiConnectionError
from authapi_client.errors_generated import InvalidRefreshToken, RefreshTokenReused
from authapi_client.models import StepUp, Tokens
from authapi_client.retry import NO_RETRIES, refresh_timeout, retryable_status
from authapi_client.transport import (
    Settings,
    build_request,
    describe,
    finish,
    logger,
    rejected_token,
    retry_after,
)

T = TypeVar("T")


class SyncTransport:
    def __init__(
        self, http: httpx.Client, settings: Settings, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.http = http
        self.settings = settings
        self.sleep = sleep
        # one refresh at a time in this client; the store's lock does it across clients
        self._refreshing = threading.Lock()

    def send(self, call: Call[T]) -> T:
        token = self.access_token() if call.bearer else None
        response = self.exchange(call, token)
        if token is not None and rejected_token(response):
            response.close()
            token = self.refresh(stale=token).access_token
            response = self.exchange(call, token)
        return finish(self.settings, call, response, self.settings.clock())

    def exchange(
        self, call: Call[T], token: str | None, timeouts: httpx.Timeout | None = None
    ) -> httpx.Response:
        """One answer for `call`, tried again as its retry policy allows."""
        policy = self.settings.retry if call.retried else NO_RETRIES
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.http.send(build_request(self.http, call, token, timeouts))
            except httpx.TransportError as error:
                if (delay := policy.delay(attempt, None)) is None:
                    raise AuthApiConnectionError(
                        f"{describe(call)}: {type(error).__name__}"
                    ) from error
                logger.info(
                    "%s: %s, retry %d in %.2f s",
                    describe(call),
                    type(error).__name__,
                    attempt,
                    delay,
                )
                self.sleep(delay)
                continue
            if retryable_status(response.status_code, response.headers):
                wait = retry_after(response, now=self.settings.clock())
                if (delay := policy.delay(attempt, wait)) is not None:
                    logger.info(
                        "%s: %d, retry %d in %.2f s",
                        describe(call),
                        response.status_code,
                        attempt,
                        delay,
                    )
                    response.close()
                    self.sleep(delay)
                    continue
            return response

    def access_token(self) -> str:
        """The stored access token, refreshed first when it is about to expire."""
        tokens = self.settings.tokens()
        if not self.settings.expiring(tokens):
            return tokens.access_token
        return self.refresh(stale=tokens.access_token).access_token

    def refresh(self, *, stale: str) -> Tokens:
        """New tokens in place of those whose access token is `stale`, with one refresh
        request however many threads (or processes sharing a file store) ask at once: whoever
        comes second finds the new tokens already stored, and takes them."""
        with self._refreshing, self.settings.store.lock():
            current = self.settings.tokens()
            # another refresh replaced the tokens meanwhile: take them, whatever their life
            if current.access_token != stale:
                return current
            try:
                return self._refresh_request(current.refresh_token)
            except (RefreshTokenReused, InvalidRefreshToken):
                self.settings.store.clear()  # the session is over: sign in again
                raise

    def keep_access_token(self, step_up: StepUp) -> None:
        """A step-up's access token in place of the stored one, under the refresh's locks: a
        refresh meanwhile is not undone by saving back the refresh token it spent."""
        with self._refreshing, self.settings.store.lock():
            self.settings.store.save(self.settings.stepped_up(step_up))

    def _refresh_request(self, refresh_token: str) -> Tokens:
        call = calls.refresh(refresh_token)
        timeout = refresh_timeout(self.http.timeout, self.settings.refresh_reuse_interval)
        started = self.settings.monotonic()
        try:
            response = self.exchange(call, None, timeout)
        except AuthApiConnectionError:
            # the answer may be lost after the server spent the token: presented again within
            # the reuse interval, it gets the same successor instead of tripping reuse
            if self.settings.monotonic() - started >= self.settings.refresh_reuse_interval:
                raise
            logger.info("%s: connection lost, presenting the token once more", describe(call))
            response = self.exchange(call, None, timeout)
        else:
            wait = retry_after(response, now=self.settings.clock())
            elapsed = self.settings.monotonic() - started
            if (
                response.status_code == 503
                and wait is not None
                and (elapsed + wait < self.settings.refresh_reuse_interval)
            ):
                logger.info("%s: 503, once more in %.2f s", describe(call), wait)
                response.close()
                self.sleep(wait)
                response = self.exchange(call, None, timeout)
        return finish(self.settings, call, response, self.settings.clock())
