"""When a request is tried again: only idempotent ones, only on a 503, a `Retry-After` or a
broken connection; a bounded number of times, with jitter so that many clients that failed
together do not come back together."""

from __future__ import annotations

import random
from dataclasses import dataclass

import httpx

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
# the service's default AUTHAPI_REFRESH_REUSE_INTERVAL_SECONDS
DEFAULT_REFRESH_REUSE_INTERVAL = 10.0
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_jitter = random.SystemRandom()


@dataclass(frozen=True)
class RetryPolicy:
    """`attempts` in all (the first included); waits of `backoff` doubling up to `max_backoff`,
    drawn at random below that ("full jitter"); a `Retry-After` is honoured when it asks for at
    most `max_retry_after` seconds (a longer wait is the caller's decision: the error says it)."""

    attempts: int = 3
    backoff: float = 0.25
    max_backoff: float = 4.0
    max_retry_after: float = 10.0

    def delay(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1), or None: stop."""
        if attempt >= self.attempts:
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return retry_after + _jitter.uniform(0, self.backoff)
        return _jitter.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))


NO_RETRIES = RetryPolicy(attempts=1)


def retryable_status(status: int, headers: httpx.Headers) -> bool:
    """A 503, or any answer that says when to come back (a 429 with `Retry-After`)."""
    return status == 503 or (status == 429 and "retry-after" in headers)


def refresh_timeout(timeout: httpx.Timeout, reuse_interval: float) -> httpx.Timeout:
    """The timeout of a refresh request: at most half the reuse interval to send it and to
    wait for its answer. The server may have spent the token when the answer is lost; only
    within the interval may it be presented again (for the same successor), and a read timeout
    as long as the interval (10 s both by default) would always end past it."""
    if reuse_interval <= 0:
        return timeout  # never presented again: no reason to give up early
    half = reuse_interval / 2
    return httpx.Timeout(
        connect=timeout.connect,  # nothing reached the server before it connected
        read=min(timeout.read, half) if timeout.read is not None else half,
        write=min(timeout.write, half) if timeout.write is not None else half,
        pool=timeout.pool,
    )
