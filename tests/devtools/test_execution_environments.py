"""The local cloud's execution environments: Lambda's scaling model, one function at a time."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from devtools.execution_environments import (
    FunctionConfig,
    FunctionPool,
    InvocationFailed,
    Throttled,
)
from tests.support.loops import wait_until

pytestmark = pytest.mark.unit

HANDLERS = "tests.support.lambda_handlers"


class Pools:
    """Pools of the stand-in handlers, each writing its lines where the test can read them."""

    def __init__(self) -> None:
        self.made: list[tuple[FunctionPool, io.StringIO]] = []

    def make(
        self, handler: str, *, timeout: float = 10, concurrency: int = 1, queue_timeout: float = 0
    ) -> FunctionPool:
        config = FunctionConfig(
            logical_id="TestFunction",
            handler=f"{HANDLERS}.{handler}",
            timeout_seconds=timeout,
            memory_mb=128,
            environment={**os.environ, "MARKER": "the function's own"},
        )
        out = io.StringIO()
        pool = FunctionPool(config, concurrency=concurrency, queue_timeout=queue_timeout, out=out)
        self.made.append((pool, out))
        return pool

    def lines(self, pool: FunctionPool) -> list[str]:
        (out,) = [out for made, out in self.made if made is pool]
        return out.getvalue().splitlines()

    def in_flight(self, pool: FunctionPool) -> int:
        lines = self.lines(pool)
        return sum(line.startswith("START ") for line in lines) - sum(
            line.startswith("REPORT ") for line in lines
        )


@pytest.fixture
def pools() -> Iterator[Pools]:
    made = Pools()
    yield made
    for pool, _ in made.made:
        pool.close()


def test_an_environment_is_reused_while_warm_with_its_environment_and_context(
    pools: Pools,
) -> None:
    pool = pools.make("echo", concurrency=2)
    first, second = pool.invoke({"n": 1}), pool.invoke({"n": 2})
    assert first["event"] == {"n": 1}
    assert first["marker"] == "the function's own"
    assert first["function_name"] == "authapi-local-TestFunction"
    assert first["pid"] == second["pid"]  # warm: the same environment, no second cold start
    assert first["request_id"] != second["request_id"]
    reports = [line for line in pools.lines(pool) if line.startswith("REPORT")]
    assert [("Init Duration" in line) for line in reports] == [True, False]
    assert first["request_id"] in reports[0]


@pytest.mark.parametrize("queue_timeout", [0, 10])
def test_past_the_concurrency_limit_an_invocation_is_throttled_unless_it_may_queue(
    pools: Pools, queue_timeout: float
) -> None:
    pool = pools.make("sleep", concurrency=1, queue_timeout=queue_timeout)
    pool.invoke({"seconds": 0})  # one warm environment: the limit
    with ThreadPoolExecutor(max_workers=1) as busy:
        running = busy.submit(pool.invoke, {"seconds": 0.3})
        wait_until(lambda: pools.in_flight(pool) == 1, what="the slow invocation to start")
        if queue_timeout:
            # it waits for the one environment, rather than a second one starting
            assert pool.invoke({"seconds": 0})["pid"] == running.result()["pid"]
        else:
            with pytest.raises(Throttled):
                pool.invoke({"seconds": 0})
    assert pool.counts.throttles == (0 if queue_timeout else 1)
    assert pool.counts.cold_starts == 1


def test_a_function_error_fails_the_invocation_and_keeps_the_environment(pools: Pools) -> None:
    pool = pools.make("fail")
    for _ in range(2):
        with pytest.raises(InvocationFailed, match="RuntimeError: failed as asked"):
            pool.invoke({})
    assert pool.counts.failures == 2
    assert pool.counts.cold_starts == 1


def test_a_timed_out_invocation_ends_its_environment(pools: Pools) -> None:
    pool = pools.make("sleep", timeout=0.5)
    first = pool.invoke({"seconds": 0})["pid"]
    with pytest.raises(InvocationFailed, match=r"Task timed out after 0\.50 seconds"):
        pool.invoke({"seconds": 5})
    assert pool.invoke({"seconds": 0})["pid"] != first  # a new environment, cold
    assert pool.counts.cold_starts == 2


def test_an_init_error_fails_the_invocation(pools: Pools) -> None:
    pool = pools.make("no_such_handler")
    with pytest.raises(InvocationFailed, match="Runtime exited with error: exit status 1"):
        pool.invoke({})
    assert any(line.startswith("INIT_REPORT") for line in pools.lines(pool))
    assert pool.pids() == []
