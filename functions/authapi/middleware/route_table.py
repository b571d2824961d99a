"""Exact paths go straight to their route: a (method, path) table in front of FastAPI's router.

FastAPI tries the app's routes in order, and an included router's own routes in order inside it
(twice: once to match, once to handle), so a request for one of the last paths (the health
check, the JWKS) pays for every route declared before it. For a path with no parameters, the
route the router would choose is known in advance: the table holds it, found by asking the
router itself (`route.matches`) for each such path and method, in the router's own order. A hit
skips the scan of the app's routes and hands the request to that route as the router would
(`route.handle`: an included router still matches its few routes itself). Anything else (a path
parameter, an unknown path, a known path with another method: the 404 and 405 answers) goes to
the router unchanged, as does any app the table cannot vouch for (mounts, host routes, form
limits, root paths, FastAPI's telemetry).

The table is built on the first request, and again whenever the app's route list holds other
route objects than it was built from: one added, removed or replaced after `create_app`, even
with the same count (a route replaced, a mount put in another's place), or the list itself
swapped. The check compares each entry by identity against the list as built: a C loop over the
app's top-level entries (16 in create_app's app, an included router being one), about 0.4 us
per request. An included router's own routes are matched by that router on every request (the
table only names the entry to hand the request to), so a route replaced inside one is served
too. Not watched, since it would take a walk of every included router per request: a router
included before another gaining, after the first request, an exact path the later one serves
(the table still hands it to the later one). Nothing of the table reaches the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import is_
from typing import Any

from fastapi.routing import APIRoute, APIRouter
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

Key = tuple[str, str]  # (method, path)

# the key FastAPI keeps its own per-request state under, in the ASGI scope
_FASTAPI_SCOPE_KEY = "fastapi"


class StaticRouteTable:
    """The router's own choice for each exact (method, path), remembered."""

    def __init__(self, router: APIRouter, fallback: ASGIApp) -> None:
        self.router = router
        self.fallback = fallback  # the router as it was: FastAPI's own matching
        self._routes: dict[Key, BaseRoute] = {}
        self._built_from: tuple[BaseRoute, ...] | None = None  # the app's routes the table knows

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._route_for(scope) if scope["type"] == "http" else None
        if route is None:
            await self.fallback(scope, receive, send)
            return
        if isinstance(route, Route):
            # a route of the app itself: what the router's loop does with its match
            match, child_scope = route.matches(scope)
            if match is not Match.FULL or _FASTAPI_SCOPE_KEY in child_scope:
                await self.fallback(scope, receive, send)
                return
            scope.update(child_scope)
        scope.setdefault("router", self.router)
        await route.handle(scope, receive, send)

    def _route_for(self, scope: Scope) -> BaseRoute | None:
        if scope.get("root_path") or "fastapi.telemetry" in scope:
            return None
        routes, built_from = self.router.routes, self._built_from
        # by identity, not `==`: starlette's Route.__eq__ calls a replacement with the same path,
        # endpoint and methods equal, and its dependencies or response model may differ
        if (
            built_from is None
            or len(routes) != len(built_from)
            or not all(map(is_, routes, built_from))
        ):
            self._routes = build_table(self.router)
            self._built_from = tuple(routes)
        return self._routes.get((scope["method"], scope["path"]))


def build_table(router: APIRouter) -> dict[Key, BaseRoute]:
    """Each exact path's route, per method, as `router` matches it; empty when the router has
    anything whose match depends on more than the method and the path."""
    if getattr(router, "form_limits", None) or not all(
        _path_only(route) for route in router.routes
    ):
        return {}
    table: dict[Key, BaseRoute] = {}
    for method, path in _static_keys(router):
        if (method, path) in table:
            continue
        scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
        for route in router.routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                table[(method, path)] = route
                break
    return table


def _included(route: BaseRoute) -> Any | None:
    """The included router's effective routes, if `route` is one (FastAPI's include_router)."""
    contexts = getattr(route, "effective_route_contexts", None)
    return contexts() if callable(contexts) else None


def _path_only(route: BaseRoute) -> bool:
    contexts = _included(route)
    if contexts is not None:
        return all(isinstance(context.original_route, APIRoute) for context in contexts)
    return isinstance(route, Route)


def _static_keys(router: APIRouter) -> Iterator[Key]:
    for route in router.routes:
        contexts = _included(route)
        entries = (
            [(context.path_format, context.methods) for context in contexts]
            if contexts is not None
            else [(getattr(route, "path_format", ""), getattr(route, "methods", None))]
        )
        for path, methods in entries:
            if path and "{" not in path:
                for method in sorted(methods or ()):
                    yield method, path
