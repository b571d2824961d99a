"""Running async code from synchronous tests, and waiting for something to happen."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class BackgroundLoop:
    """An event loop on a thread of its own. Any thread may run a coroutine on it, several at once.

    A synchronous test can so leave a request running (in a thread of its own) while it does
    something else, such as stopping the database under it.
    """

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T], *, timeout: float | None = 60) -> T:
        """Run `coroutine` on the loop and wait for its result (the timeout is a safety net)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.run(self.loop.shutdown_asyncgens())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


def wait_until(condition: Callable[[], bool], *, what: str, timeout: float = 10.0) -> None:
    """Poll `condition()` until it holds; the timeout is a safety net, not an assertion."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)
