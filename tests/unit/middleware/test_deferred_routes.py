"""A deferred router answers exactly as if it had been included up front, and loads only when a
request's path needs it."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from authapi.middleware.deferred_routes import DeferredRoutes, load_deferred
from authapi.middleware.route_table import StaticRouteTable
from tests.support.routes import overlapping_item_routers

pytestmark = pytest.mark.unit


def _app(*, deferred: bool, loads: list[str] | None = None) -> FastAPI:
    app = FastAPI()
    early, late = overlapping_item_routers()

    @app.get("/first")
    async def first() -> dict[str, str]:
        return {"route": "first"}

    if deferred:

        def load() -> list[APIRouter]:
            if loads is not None:
                loads.append("items")
            return [early]

        app.router.routes.append(DeferredRoutes(app.router, "/items", load))
    else:
        app.include_router(early)
    app.include_router(late)

    @app.get("/last")
    async def last() -> dict[str, str]:
        return {"route": "last"}

    app.router.middleware_stack = StaticRouteTable(app.router, app.router.middleware_stack)
    return app


async def _call(app: FastAPI, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        return await client.request(method, path)


REQUESTS = [
    ("GET", "/first"),
    ("GET", "/items/special"),  # the deferred router's parameter route, as included up front
    ("POST", "/items/special"),  # no POST there: the later router's exact route
    ("DELETE", "/items/special"),  # a path both know, a method neither takes: 405
    ("GET", "/items/other"),
    ("GET", "/itemsx"),  # the prefix catches it, no route matches: 404
    ("GET", "/last"),
    ("GET", "/nowhere"),
]


@pytest.mark.parametrize("order", ["as listed", "reversed"])
async def test_every_answer_is_the_eagerly_included_routers(order: str) -> None:
    requests = REQUESTS if order == "as listed" else REQUESTS[::-1]
    eager, deferred = _app(deferred=False), _app(deferred=True)
    for method, path in requests:
        expected, answered = await _call(eager, method, path), await _call(deferred, method, path)
        assert (answered.status_code, answered.text) == (expected.status_code, expected.text), (
            method,
            path,
        )


async def test_it_loads_when_a_path_needs_it_and_takes_its_place() -> None:
    loads: list[str] = []
    app = _app(deferred=True, loads=loads)
    for path in ("/first", "/last", "/nowhere"):
        await _call(app, "GET", path)
    assert loads == []
    assert (await _call(app, "GET", "/items/7")).json() == {"route": "param", "item_id": "7"}
    assert loads == ["items"]
    await _call(app, "GET", "/items/8")
    assert loads == ["items"]  # once
    # in its own place: the list is what include_router up front would have made
    assert not any(isinstance(route, DeferredRoutes) for route in app.router.routes)
    eager = _app(deferred=False)
    assert [type(route).__name__ for route in app.router.routes] == [
        type(route).__name__ for route in eager.router.routes
    ]


def test_load_deferred_loads_every_placeholder() -> None:
    loads: list[str] = []
    app = _app(deferred=True, loads=loads)
    load_deferred(app.router)
    assert loads == ["items"]
    assert not any(isinstance(route, DeferredRoutes) for route in app.router.routes)
    assert app.url_path_for("item", item_id="3") == "/items/3"


# In a fresh process: what the app imports for a cold start's first request, and what its
# OpenAPI document makes it import.
FIRST_REQUEST_IMPORTS = """
import asyncio, json, sys
import httpx
from authapi.app import create_app
from authapi.config import Settings

DEFERRED = ("authapi.admin.endpoints", "authapi.admin.tenant_endpoints",
            "authapi.lifecycle.endpoints", "authapi.auth.mfa_endpoints",
            "authapi.auth.event_endpoints", "authapi.oauth.endpoints", "authapi.oauth.metadata",
            "authapi.auth.sign_in_endpoints", "authapi.auth.login_form", "authapi.auth.service")

async def main():
    app = create_app(Settings(environment="test"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        await client.get("/api/v1/auth/me")
        await client.get("/.well-known/jwks.json")
        first = [name for name in DEFERRED if name in sys.modules]
        from authapi.auth.endpoints import legacy
        aliases_declared = legacy._router is not None
        # the first request on a copy, its module not imported yet: the headers are there
        alias = await client.post("/api/auth/logout")
        paths = (await client.get("/openapi.json")).json()["paths"]
    print(json.dumps({"after_first": first, "after_openapi": [
        name for name in DEFERRED if name in sys.modules], "paths": len(paths),
        "aliases_declared": aliases_declared,
        "alias_status": alias.status_code, "alias_deprecation": alias.headers.get("deprecation"),
        "alias_in_openapi": "/api/auth/me" in paths,
        "aliases_in_openapi": len([path for path in paths if path.startswith("/api/auth/")])}))

asyncio.run(main())
"""


def test_a_first_request_imports_none_of_the_deferred_routers() -> None:
    done = subprocess.run(
        [sys.executable, "-c", FIRST_REQUEST_IMPORTS],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["after_first"] == []
    # the deprecated /api/auth/... copies are declared only when one is asked for
    assert report["aliases_declared"] is False
    assert report["alias_status"] == 401
    assert report["alias_deprecation"] is not None
    assert len(report["after_openapi"]) == 10
    assert report["alias_in_openapi"] is True
    assert report["aliases_in_openapi"] == 5
    assert report["paths"] > 40
