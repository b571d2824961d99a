"""Versioned paths: routes live under /api/v1/, and a few also answer at their older, unversioned
path, deprecated (RFC 9745 `Deprecation`, RFC 8594 `Sunset`, and `Link`s to the successor and to
the notice that explains it).

`DeprecatedAliases.add(router, ...)` is the one place that registers a route at both paths: the
route is declared once, on its /api/v1/ path, and its alias is a copy at the old path with its
own operationId and `deprecated: true` in OpenAPI. The headers are added by
`middleware.deprecation` from `headers_for(successor)` for every alias path, declared yet or not
(authapi.auth.endpoints.legacy_headers), so every answer on an alias carries them, errors
included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, TypeVar

from fastapi import APIRouter, Response
from fastapi.routing import APIRoute

# When the unversioned /api/auth/... paths were deprecated (the release that added /api/v1/),
# and the date after which they may stop answering: at least six months of notice.
LEGACY_DEPRECATED_AT = datetime(2026, 12, 3, tzinfo=UTC)
LEGACY_SUNSET_AT = datetime(2027, 7, 1, tzinfo=UTC)
# What the `rel="deprecation"` link points to: the notice itself, machine-readable, served by the
# API (so it exists in production, where /docs is off)
DEPRECATION_NOTICE_PATH = "/api/v1/deprecations"

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


@dataclass(frozen=True)
class Alias:
    path: str  # the deprecated path
    successor: str  # the /api/v1/ path that replaces it
    methods: tuple[str, ...]


@dataclass
class DeprecatedAliases:
    """The deprecated copies of routes, and the headers their answers carry.

    The copies are declared when `router` is first read, not as their routes are: FastAPI
    analyses each route as it is declared, and a cold start whose first request is on /api/v1/
    needs none of them (app.py defers the whole router to the first request on an old path).
    """

    deprecated_at: datetime = LEGACY_DEPRECATED_AT
    sunset_at: datetime = LEGACY_SUNSET_AT
    tags: list[str] = field(default_factory=list)
    aliases: list[Alias] = field(default_factory=list)
    # each alias's path, route arguments and endpoint, until the router declares it
    _declarations: list[tuple[str, dict[str, Any], Callable[..., Any]]] = field(
        default_factory=list, repr=False
    )
    _router: APIRouter | None = field(default=None, repr=False)

    @property
    def router(self) -> APIRouter:
        """The aliases' routes, declared on the first read."""
        if self._router is None:
            self._router = APIRouter(tags=list(self.tags))
            for alias, route, endpoint in self._declarations:
                self._router.api_route(alias, **route)(endpoint)
        return self._router

    def add(self, router: APIRouter, path: str, *, alias: str, **route: Any) -> Callable[..., Any]:
        """Like `router.api_route(path, **route)`, and the same endpoint at `alias`, deprecated.

        `route` takes what `APIRouter.api_route` takes (`methods` included).
        """

        def register(endpoint: Endpoint) -> Endpoint:
            router.api_route(path, **route)(endpoint)
            declared = router.routes[-1]
            assert isinstance(declared, APIRoute)  # what api_route just added
            # its own name, so its own operationId (FastAPI derives it from name, path, method)
            declaration = {**route, "name": f"{declared.name}_deprecated", "deprecated": True}
            self._declarations.append((alias, declaration, endpoint))
            if self._router is not None:  # already read: declared now, as the others were
                self._router.api_route(alias, **declaration)(endpoint)
            self.aliases.append(
                Alias(
                    path=alias,
                    successor=declared.path,
                    methods=tuple(sorted(declared.methods or ())),
                )
            )
            return endpoint

        return register

    def headers_for(self, successor: str) -> dict[str, str]:
        """What every answer on a deprecated copy of `successor` carries."""
        return {
            # RFC 9745: a structured-field date, seconds since the epoch
            "deprecation": f"@{int(self.deprecated_at.timestamp())}",
            # RFC 8594: an HTTP-date
            "sunset": format_datetime(self.sunset_at, usegmt=True),
            "link": (
                f'<{successor}>; rel="successor-version", '
                f'<{DEPRECATION_NOTICE_PATH}>; rel="deprecation"; type="application/json"'
            ),
        }

    def notice_router(self) -> APIRouter:
        """GET /api/v1/deprecations: the notice the `rel="deprecation"` links point to."""
        router = APIRouter(tags=["api"])

        @router.get(DEPRECATION_NOTICE_PATH)
        async def deprecations(response: Response) -> dict[str, Any]:
            """Which paths are deprecated, since when, until when, and what replaces them."""
            response.headers["Cache-Control"] = "public, max-age=86400"
            return self.notice()

        return router

    def notice(self) -> dict[str, Any]:
        """The deprecation notice: which paths, since when, until when, and what replaces them."""
        return {
            "deprecated": [
                {
                    "path": alias.path,
                    "methods": list(alias.methods),
                    "successor": alias.successor,
                    "deprecation": self.deprecated_at.isoformat(),
                    "sunset": self.sunset_at.isoformat(),
                }
                for alias in self.aliases
            ],
            "description": (
                "These paths answer exactly as their successors do, with Deprecation, Sunset and "
                "Link headers, until the sunset date; after it they may answer 404. Move to the "
                "successor paths: bodies, tokens and errors are the same."
            ),
        }
