"""The (method, path) table in front of FastAPI's router picks what the router would pick."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI

from authapi.app import create_app
from authapi.config import Settings
from authapi.middleware import route_table
from authapi.middleware.route_table import StaticRouteTable, exact_route
from tests.support.routes import overlapping_item_routers

pytestmark = pytest.mark.unit


def _app_with_table() -> FastAPI:
    app = FastAPI()
    early, late = overlapping_item_routers()
    app.include_router(early)
    app.include_router(late)
    app.router.middleware_stack = StaticRouteTable(app.router, app.router.middleware_stack)
    return app


async def _get(app: FastAPI, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        return await client.request(method, path)


async def test_an_exact_path_an_earlier_parameter_route_matches_goes_to_that_route() -> None:
    app = _app_with_table()
    assert (await _get(app, "GET", "/items/special")).json() == {
        "route": "param",
        "item_id": "special",
    }
    # the parameter route has no POST: the router goes on to the exact one
    assert (await _get(app, "POST", "/items/special")).json() == {"route": "post special"}


async def test_a_route_added_after_the_first_request_is_served() -> None:
    app = _app_with_table()
    assert (await _get(app, "GET", "/late")).status_code == 404

    @app.get("/late")
    async def late() -> dict[str, bool]:
        return {"late": True}

    assert (await _get(app, "GET", "/late")).json() == {"late": True}


async def test_a_route_replaced_by_another_after_the_first_request_is_served() -> None:
    app = _app_with_table()

    @app.get("/swapped")
    async def before() -> dict[str, str]:
        return {"route": "before"}

    assert (await _get(app, "GET", "/swapped")).json() == {"route": "before"}
    # the same count of routes, another object in the old one's place (and its endpoint too)
    replacement = APIRouter()

    @replacement.get("/swapped")
    async def after() -> dict[str, str]:
        return {"route": "after"}

    (new_route,) = replacement.routes
    position = next(
        i for i, route in enumerate(app.router.routes) if getattr(route, "path", "") == "/swapped"
    )
    count = len(app.router.routes)
    app.router.routes[position] = new_route

    assert len(app.router.routes) == count
    assert (await _get(app, "GET", "/swapped")).json() == {"route": "after"}


async def test_a_route_replaced_by_an_equal_one_is_served_by_the_new_object() -> None:
    # starlette's Route.__eq__ calls two routes equal on path, endpoint and methods: the table
    # must still hand the request to the object the router now holds
    app = _app_with_table()

    async def shared() -> dict[str, str]:
        return {"route": "shared"}

    app.add_api_route("/same", shared, methods=["GET"])
    assert (await _get(app, "GET", "/same")).status_code == 200
    position = next(
        i for i, route in enumerate(app.router.routes) if getattr(route, "path", "") == "/same"
    )
    old = app.router.routes[position]
    served: list[str] = []
    replacement = APIRouter()
    replacement.add_api_route(
        "/same", shared, methods=["GET"], dependencies=[Depends(lambda: served.append("new"))]
    )
    (new_route,) = replacement.routes
    assert new_route == old
    assert new_route is not old
    app.router.routes[position] = new_route

    assert (await _get(app, "GET", "/same")).json() == {"route": "shared"}
    assert served == ["new"]


async def test_a_known_path_with_another_method_is_still_the_routers_405() -> None:
    response = await _get(_app_with_table(), "DELETE", "/items/special")
    assert response.status_code == 405


def test_the_apps_hot_paths_are_exact_routes_and_parameter_paths_are_not() -> None:
    app = create_app(Settings(environment="test"))
    for key in (
        ("GET", "/api/v1/auth/me"),
        ("GET", "/health"),
        ("GET", "/.well-known/jwks.json"),
        ("GET", "/.well-known/openid-configuration"),
    ):
        assert exact_route(app.router, *key) is not None, key
    # a deferred router (sign-in's, a deprecated alias's): the first lookup puts it in place
    # (and answers none: the route list changed), the next one finds the route
    assert exact_route(app.router, "POST", "/api/v1/auth/login") is None
    assert exact_route(app.router, "POST", "/api/v1/auth/login") is not None
    assert exact_route(app.router, "POST", "/api/v1/auth/refresh-token") is not None
    assert exact_route(app.router, "POST", "/api/auth/logout") is None
    assert exact_route(app.router, "POST", "/api/auth/logout") is not None
    assert exact_route(app.router, "GET", "/api/v1/auth/login") is None  # POST only: the 405
    assert exact_route(app.router, "GET", "/api/v1/admin/users/some-id") is None
    assert exact_route(app.router, "GET", "/nowhere") is None


async def test_the_first_request_builds_only_the_router_it_is_served_by(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # FastAPI builds an included router's per-route state when the router is first matched
    # against; learning every exact path up front built all of them on a cold start's request
    import fastapi.routing

    # FastAPI's own (private) builder of that state: what the test watches
    context_class = fastapi.routing._EffectiveRouteContext  # noqa: SLF001
    built: list[str] = []
    original = context_class.from_api_route.__func__  # type: ignore[attr-defined]

    def recording(cls: type, /, **kwargs: object) -> object:
        built.append(str(kwargs["original_route"].path))  # type: ignore[attr-defined]
        return original(cls, **kwargs)

    monkeypatch.setattr(context_class, "from_api_route", classmethod(recording))
    app = create_app(Settings(environment="test"))
    # a route of the first router included (no signing key here: its 503, routed all the same)
    assert (await _get(app, "GET", "/api/v1/auth/me")).status_code != 404
    assert "/api/v1/auth/me" in built
    assert not [path for path in built if "/admin" in path or "/mfa" in path or "health" in path]


async def test_what_the_table_remembers_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    app = _app_with_table()
    table = app.router.middleware_stack
    assert isinstance(table, StaticRouteTable)
    monkeypatch.setattr(route_table, "MAX_REMEMBERED_MISSES", 8)
    for number in range(20):
        assert (await _get(app, "GET", f"/items/{number}")).json()["item_id"] == str(number)
        assert (await _get(app, "GET", f"/unknown/{number}")).status_code == 404
    assert (await _get(app, "POST", "/items/special")).json() == {"route": "post special"}
    # what it remembers, read from its private state: the bound is the point of the test
    assert len(table._misses) <= 8  # noqa: SLF001
    # parameter paths are never remembered as hits: only the one exact path is
    assert list(table._routes) == [("POST", "/items/special")]  # noqa: SLF001
