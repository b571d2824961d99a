"""Every route of an app, for tests that check a property of each one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute

from authapi.middleware.deferred_routes import load_deferred


def _api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from _api_routes(included.routes)


def every_api_route(app: FastAPI) -> list[APIRoute]:
    """Every APIRoute: the deferred routers loaded first, included routers walked (FastAPI keeps
    those as their own objects, not flattened into the app's list)."""
    load_deferred(app.router)
    return list(_api_routes(app.routes))


def overlapping_item_routers() -> tuple[APIRouter, APIRouter]:
    """Two routers on /items whose order decides answers: the earlier one's parameter route
    (GET /items/{item_id}) wins GET /items/special over the later one's exact path, which
    alone takes POST."""
    early = APIRouter(prefix="/items")

    @early.get("/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"route": "param", "item_id": item_id}

    late = APIRouter(prefix="/items")

    @late.get("/special")
    async def special() -> dict[str, str]:
        return {"route": "special"}

    @late.post("/special")
    async def post_special() -> dict[str, str]:
        return {"route": "post special"}

    return early, late
