"""No request runs a dependency or an endpoint in a worker thread.

FastAPI runs every plain `def` dependency and endpoint through the thread pool: a thread hop
per call per request (tens of microseconds each, and a context switch the event loop waits on),
which the warm latency in docs/benchmarks.md paid for field reads. CPU-bound work that must
leave the loop (argon2) says so explicitly with `anyio.to_thread`, where its cost is visible.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant

from tests.support.routes import every_api_route

pytestmark = pytest.mark.unit


def _calls(dependant: Dependant) -> Iterator[object]:
    if dependant.call is not None:
        yield dependant.call
    for sub in dependant.dependencies:
        yield from _calls(sub)


def _runs_on_the_loop(call: object) -> bool:
    target = call if inspect.isroutine(call) else getattr(call, "__call__", call)  # noqa: B004
    return inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target)


def test_every_dependency_and_endpoint_runs_on_the_event_loop(app: FastAPI) -> None:
    routes = every_api_route(app)
    routes_seen = len(routes)
    threaded = sorted(
        {
            f"{route.path}: {getattr(call, '__qualname__', repr(call))}"
            for route in routes
            for call in _calls(route.dependant)
            if not _runs_on_the_loop(call)
        }
    )

    assert (
        routes_seen > 40
    )  # the walk found the API's routes (the deferred too), not just the docs'
    assert threaded == []
