"""Tenant paths: `/t/<id>/api/v1/...` and `/t/<id>/.well-known/...` are the default tenant's
routes, served for tenant `<id>` (authapi.tenant_scope.current_tenant set for the request).

The prefix moves into the ASGI `root_path` and stays in `path` (the ASGI convention Starlette
routes by): the router matches the rest as it matches any request, and every URL the app builds
from the request (`request.base_url`, `url_for`) keeps `/t/<id>`. RFC 8414's path-inserted
metadata URL of a tenant's issuer, `/.well-known/oauth-authorization-server/t/<id>`, is served
as `/t/<id>/.well-known/oauth-authorization-server`.

A tenant that does not exist and one that is disabled get the same 404 `tenant_not_found`
(nothing tells a disabled tenant from an unknown one), before any route runs. `/t/default/...`
is one of those: the default tenant lives at the root paths only, one URL (and one issuer) per
tenant. The deprecated `/api/auth/*` aliases, and anything else outside `/api/v1/` and
`/.well-known/`, are the default tenant's alone: under `/t/<id>/` they are the router's 404.

Whether a tenant is served is asked of `tenant_served`, given by the composition root (the
tenant directory, cached per execution environment).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from authapi.exceptions import TenantNotFoundError
from authapi.middleware.base import HttpMiddleware
from authapi.problems import problem_response
from authapi.tenant_scope import DEFAULT_TENANT, current_tenant, valid_tenant_id

TenantServed = Callable[[str], Awaitable[bool]]
"""True when the tenant of that (valid) id exists and is enabled."""

TENANT_PREFIX = "/t/"
# what a tenant's prefix may lead to: the versioned API (oauth/* included) and its documents
TENANT_SCOPED_PREFIXES = ("/api/v1/", "/.well-known/")
METADATA_PATH = "/.well-known/oauth-authorization-server"


def split_tenant_path(path: str) -> tuple[str, str] | None:
    """(tenant id, the path after `/t/<id>`) when `path` is a tenant-scoped one, else None."""
    if path.startswith(METADATA_PATH + TENANT_PREFIX):
        # RFC 8414 section 3.1: the well-known segment inserted before the issuer's path
        tenant_id = path[len(METADATA_PATH + TENANT_PREFIX) :]
        return (tenant_id, METADATA_PATH) if tenant_id and "/" not in tenant_id else None
    if not path.startswith(TENANT_PREFIX):
        return None
    tenant_id, slash, rest = path[len(TENANT_PREFIX) :].partition("/")
    rest = slash + rest
    if not tenant_id or not rest.startswith(TENANT_SCOPED_PREFIXES):
        return None
    return tenant_id, rest


class TenantPathMiddleware(HttpMiddleware):
    def __init__(self, app: ASGIApp, *, tenant_served: TenantServed):
        super().__init__(app)
        self.tenant_served = tenant_served

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        root_path: str = scope.get("root_path", "")
        path: str = scope["path"]
        # the path as the router sees it (a root path the server set is not ours to read)
        route_path = path[len(root_path) :] if root_path and path.startswith(root_path) else path
        split = split_tenant_path(route_path)
        if split is None:
            await self.app(scope, receive, send)
            return
        tenant_id, rest = split
        if (
            tenant_id == DEFAULT_TENANT
            or not valid_tenant_id(tenant_id)
            or not await self.tenant_served(tenant_id)
        ):
            await problem_response(TenantNotFoundError(), path=path)(scope, receive, send)
            return
        prefix = root_path + TENANT_PREFIX + tenant_id
        # a copy: the access line (authapi.middleware.front) names the path as it was asked
        child = {**scope, "root_path": prefix, "path": prefix + rest}
        if child["path"] != path and "raw_path" in scope:
            child["raw_path"] = child["path"].encode()  # the path-inserted metadata URL
        token = current_tenant.set(tenant_id)
        try:
            await self.app(child, receive, send)
        finally:
            current_tenant.reset(token)
