"""Routers imported when a request first reaches them, so a cold start imports what its first
request needs and not the whole API.

Importing a router's module declares its routes (FastAPI analyses each endpoint's parameters and
response model as it is declared) and builds its request and response models: for the admin,
tenant, account lifecycle, MFA, event and OAuth routers, tens of milliseconds of every cold
start, although a first request is most often a `/me`, a refresh or a login.

`DeferredRoutes` holds an included router's place in the app's route list until a request's
path starts with its prefix. Then it imports the module, includes its routers as `create_app`
would have, and puts them in its own place, so the list, its order and every answer are what
they would have been had they been included up front: a request the placeholder's prefix
catches is matched against the real routes, and one it does not catch could not have matched
them. The prefix only says when to load, never what answers. `load_deferred(router)` loads
every placeholder at once, for whatever reads the whole route list (the OpenAPI document,
tests that walk the routes).

Loading is synchronous (an import and `include_router`), so no other request on the event loop
sees a half-loaded list.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi.routing import APIRouter
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

# the real entry a placeholder matched, handed from its match to its handle in the scope
_ENTRY_KEY = "authapi.deferred_entry"


class DeferredRoutes(BaseRoute):
    """The place of routers `load()` returns, in `router`'s routes, until a path needs them."""

    def __init__(
        self,
        router: APIRouter,
        prefix: str | tuple[str, ...],
        load: Callable[[], Sequence[APIRouter]],
    ) -> None:
        self.router = router  # the app's router, which holds this placeholder
        self.prefix = prefix  # or prefixes: a request whose path starts with one loads them
        self._load = load
        self._entries: list[BaseRoute] | None = None

    def entries(self) -> list[BaseRoute]:
        """The included routers, put in this placeholder's place on the first call."""
        if self._entries is None:
            routes = self.router.routes
            count = len(routes)
            for included in self._load():
                self.router.include_router(included)  # appended: moved into place below
            added = routes[count:]
            del routes[count:]
            position = next((i for i, route in enumerate(routes) if route is self), None)
            if position is not None:
                routes[position : position + 1] = added
            self._entries = added
        return self._entries

    def catches(self, scope: Scope) -> bool:
        """Whether a request's path is one this placeholder loads for (the path as routes
        match it: below the scope's root path, as Starlette's own routes read it)."""
        if scope["type"] != "http":
            return False
        path, root_path = scope["path"], scope.get("root_path", "")
        if root_path and path.startswith(root_path):
            path = path[len(root_path) :]
        return bool(path.startswith(self.prefix))

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if not self.catches(scope):
            return Match.NONE, {}
        partial: tuple[Match, Scope] | None = None
        for entry in self.entries():  # the router's own rule: the first full match wins
            match, child_scope = entry.matches(scope)
            if match is Match.FULL:
                return match, {**child_scope, _ENTRY_KEY: entry}
            if match is Match.PARTIAL and partial is None:
                partial = (match, {**child_scope, _ENTRY_KEY: entry})
        return partial or (Match.NONE, {})

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        # the router handles only what it matched, and the route table never names a
        # placeholder (route_table.exact_route): the match left its entry in the scope
        entry: BaseRoute = scope.pop(_ENTRY_KEY)
        await entry.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        for entry in self.entries():
            try:
                return entry.url_path_for(name, **path_params)
            except NoMatchFound:
                pass
        raise NoMatchFound(name, path_params)


def load_deferred(router: APIRouter) -> None:
    """Put every deferred router of `router` in its place now."""
    for route in list(router.routes):
        if isinstance(route, DeferredRoutes):
            route.entries()
