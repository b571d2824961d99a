"""A route class for routers whose paths take several methods in separate routes.

Starlette answers a method no route of a path takes with the methods of the first route of that
path in `Allow`; /users/{user_id} (GET, DELETE) and /tenants (GET, POST) have two, so `Allow`
must name every method of the path's routes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute
from starlette.types import Receive, Scope, Send


def shared_path_route(siblings: Callable[[], Iterable[BaseRoute]]) -> type[APIRoute]:
    """The route class of a router: `siblings()` gives that router's routes (read per 405)."""

    class SharedPathRoute(APIRoute):
        async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
            if self.methods and scope["method"] not in self.methods:
                allowed = sorted(
                    {
                        method
                        for route in siblings()
                        if isinstance(route, APIRoute) and route.path_format == self.path_format
                        for method in route.methods or ()
                    }
                )
                raise HTTPException(status_code=405, headers={"Allow": ", ".join(allowed)})
            await super().handle(scope, receive, send)

    return SharedPathRoute
