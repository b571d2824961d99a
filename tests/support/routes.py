"""Every route of an app, for tests that check a property of each one."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from fastapi import FastAPI
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
