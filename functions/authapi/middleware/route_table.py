"""Exact paths go straight to their route: a (method, path) table in front of FastAPI's router.

FastAPI tries the app's routes in order, and an included router's own routes in order inside it
(twice: once to match, once to handle), so a request for one of the last paths (the health
check, the JWKS) pays for every route declared before it. For a path with no parameters, the
route the router chooses is the same on every request: the table remembers it, found by asking
the router's own routes (`route.matches`), in the router's own order. A hit
skips the scan of the app's routes and hands the request to that route as the router would
(`route.handle`: an included router still matches its few routes itself). Anything else (a path
parameter, an unknown path, a known path with another method: the 404 and 405 answers) goes to
the router unchanged, as does any app the table cannot vouch for (mounts, host routes, form
limits, root paths, FastAPI's telemetry).

Each (method, path) is looked up once, when first asked for: a scan of the app's routes in the
router's own order, stopping at the first full match, as the router's does. Learning every path
at once would build FastAPI's per-route state for every included router on the first request
(FastAPI builds it lazily, as a router is first matched against): 40-60 ms of a cold start whose
request needs one router. What is remembered is bounded: a hit only for a path one of the chosen
entry's routes declares as it is (so at most the app's exact paths), a miss in a set that is
cleared when full (any path can be asked for).

Both are forgotten whenever the app's route list holds other route objects than they were
learned from: one added, removed or replaced after `create_app`, even with the same count (a
route replaced, a mount put in another's place), or the list itself swapped. The check compares
each entry by identity against the list as learned: a C loop over the app's top-level entries
(16 in create_app's app, an included router being one), about 0.4 us per request. An included
router's own routes are matched by that router on every request (the table only names the
entry to hand the request to), so a route replaced inside one is served too. Not watched, since
it would take a walk of every included router per request: a router included before another
gaining, after a path was learned, that exact path (the table still hands it to the later
one). Nothing of the table reaches the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Iterator
from operator import is_
from typing import Any

from fastapi.routing import APIRoute, APIRouter
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from authapi.middleware.deferred_routes import DeferredRoutes

Key = tuple[str, str]  # (method, path)

# the key FastAPI keeps its own per-request state under, in the ASGI scope
_FASTAPI_SCOPE_KEY = "fastapi"


# misses remembered at most: every unknown path and every parameter path is one
MAX_REMEMBERED_MISSES = 512


class StaticRouteTable:
    """The router's own choice for each exact (method, path), remembered."""

    def __init__(self, router: APIRouter, fallback: ASGIApp) -> None:
        self.router = router
        self.fallback = fallback  # the router as it was: FastAPI's own matching
        self._routes: dict[Key, BaseRoute] = {}
        self._misses: set[Key] = set()  # keys the table leaves to the router
        self._learned_from: tuple[BaseRoute, ...] | None = None  # the app's routes, as learned

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
        routes, learned_from = self.router.routes, self._learned_from
        # by identity, not `==`: starlette's Route.__eq__ calls a replacement with the same path,
        # endpoint and methods equal, and its dependencies or response model may differ
        if (
            learned_from is None
            or len(routes) != len(learned_from)
            or not all(map(is_, routes, learned_from))
        ):
            self._routes, self._misses = {}, set()
            self._learned_from = tuple(routes)
        key = (scope["method"], scope["path"])
        route = self._routes.get(key)
        if route is not None or key in self._misses:
            return route
        route = exact_route(self.router, *key)
        if route is not None:
            self._routes[key] = route
        else:
            if len(self._misses) >= MAX_REMEMBERED_MISSES:
                self._misses.clear()
            self._misses.add(key)
        return route


def exact_route(router: APIRouter, method: str, path: str) -> BaseRoute | None:
    """The entry of `router` that serves `method` `path`, if the router would choose it by the
    method and path alone and one of its routes declares that path as it is; else None."""
    if getattr(router, "form_limits", None):
        return None
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    for route in router.routes:
        if isinstance(route, DeferredRoutes):
            if route.catches(scope):
                # its routers take its place now; the list changed, so the next request for
                # this key learns it from them
                route.entries()
                return None
            continue
        if not _path_only(route):
            return None  # a mount or host route: its match may depend on more than the path
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route if (method, path) in set(_exact_keys(route)) else None
    return None


def _included(route: BaseRoute) -> Any | None:
    """The included router's effective routes, if `route` is one (FastAPI's include_router)."""
    contexts = getattr(route, "effective_route_contexts", None)
    return contexts() if callable(contexts) else None


def _path_only(route: BaseRoute) -> bool:
    contexts = _included(route)
    if contexts is not None:
        return all(isinstance(context.original_route, APIRoute) for context in contexts)
    return isinstance(route, Route)


def _exact_keys(route: BaseRoute) -> Iterator[Key]:
    contexts = _included(route)
    entries = (
        [(context.path_format, context.methods) for context in contexts]
        if contexts is not None
        else [(getattr(route, "path_format", ""), getattr(route, "methods", None))]
    )
    for path, methods in entries:
        if path and "{" not in path:
            for method in methods or ():
                yield method, path
