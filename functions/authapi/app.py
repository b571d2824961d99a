"""The composition root: create_app() builds the one ASGI app, served by uvicorn locally and by
Mangum in Lambda, and chooses what it runs on (key provider, clock, database)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from authapi.api_versions import DEPRECATION_NOTICE_PATH
from authapi.auth import discovery, jwks, session_endpoints
from authapi.auth import endpoints as auth_endpoints
from authapi.clock import Clock, SystemClock
from authapi.config import Settings, get_settings
from authapi.db.engine import Database
from authapi.exception_handlers import register_exception_handlers
from authapi.health import endpoints as health_endpoints
from authapi.middleware.body_limit import BodyLimitMiddleware
from authapi.middleware.cors import ProblemCorsMiddleware
from authapi.middleware.deferred_routes import DeferredRoutes, load_deferred
from authapi.middleware.front import FrontMiddleware
from authapi.middleware.gzip import SmallAnswerGZipMiddleware
from authapi.middleware.route_table import StaticRouteTable
from authapi.middleware.tenant_path import TenantPathMiddleware
from authapi.middleware.trusted_host import TrustedHostMiddleware
from authapi.observability.logs import configure_logging
from authapi.outbox.notify import notifier_for
from authapi.passwords import PasswordHashing
from authapi.problems import PROBLEM_SCHEMA
from authapi.resources import Resources, app_resources
from authapi.signing.keys import KeyProvider, SettingsKeyProvider
from authapi.tenants.directory import find_tenant


def key_provider_for(settings: Settings, clock: Clock) -> KeyProvider:
    """SSM Parameter Store when a parameter prefix is configured (Lambda), else settings."""
    if settings.ssm_parameter_prefix is not None:
        # imported only here: Powertools' parameters and botocore stay off other cold starts
        from authapi.signing.ssm import SsmKeyProvider

        return SsmKeyProvider(settings, clock=clock)
    return SettingsKeyProvider(settings)


def build_resources(settings: Settings, *, clock: Clock | None = None) -> Resources:
    """What the app holds for its lifetime; nothing here connects to anything yet."""
    clock = clock or SystemClock()
    return Resources(
        settings=settings,
        database=Database(settings),
        hashing=PasswordHashing.from_settings(settings),
        key_provider=key_provider_for(settings, clock),
        clock=clock,
        outbox_notifier=notifier_for(settings),
    )


# What browsers may send and read, for the app's own CORS answers and API Gateway's (a test holds
# template.yaml's CorsConfiguration to these): every method a route uses, every header it reads.
CORS_METHODS = ("GET", "POST", "PATCH", "DELETE")
CORS_REQUEST_HEADERS = ("authorization", "content-type", "x-request-id")
# (a browser client can read that a path it calls is deprecated, and what succeeds it)
CORS_EXPOSED_HEADERS = ("retry-after", "x-request-id", "deprecation", "sunset", "link")
CORS_MAX_AGE_SECONDS = 600


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    # Starlette wraps each added middleware around the previous ones: add innermost first.
    # Resulting order, outermost first: the front (edge origin, deprecation and security
    # headers, request id, access log, errors: authapi.middleware.front), CORS, GZip, trusted
    # host, body limit, tenant paths.

    async def tenant_served(tenant_id: str) -> bool:
        database = app_resources(app).database
        record = await find_tenant(database, tenant_id)
        if record is None or record.disabled:
            return False
        if database.schema_has_tenants is not True:
            # a tenant other than the default exists, so migration 0014 may have run since this
            # environment last asked: ask again now rather than within the minute (until then
            # its statements refuse to run unscoped: authapi.db.tenant_criteria)
            database.schema_probed_at = -math.inf
        return True

    app.add_middleware(TenantPathMiddleware, tenant_served=tenant_served)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    if settings.trusted_hosts:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts)
    app.add_middleware(SmallAnswerGZipMiddleware, minimum_size=1024)
    if settings.allowed_origins:
        # behind API Gateway this never answers: a configured HTTP API ignores the backend's CORS
        app.add_middleware(
            ProblemCorsMiddleware,
            allow_origins=settings.allowed_origins,
            allow_methods=list(CORS_METHODS),
            allow_headers=list(CORS_REQUEST_HEADERS),
            expose_headers=list(CORS_EXPOSED_HEADERS),
            max_age=CORS_MAX_AGE_SECONDS,
        )

    async def origin_secret() -> str | None:
        # read with the keys (one SSM call, cached), only for requests that carry the header
        return (await app_resources(app).key_provider.key_ring()).origin_verify_secret

    app.add_middleware(
        FrontMiddleware,
        origin_secret=origin_secret,
        deprecated_paths=auth_endpoints.legacy_headers(),
    )


def _defer(
    app: FastAPI, prefix: str | tuple[str, ...], load: Callable[[], list[APIRouter]]
) -> None:
    app.router.routes.append(DeferredRoutes(app.router, prefix, load))


def _v1_auth(paths: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(auth_endpoints.router.prefix + path for path in paths)


# What the deferred places load. The imports are here, not at the top of the module: a cold start
# imports only the one its first request reaches (none for a /me). Spelled out, not importlib by
# name, so that the import contracts (pyproject.toml) still see them.
def _sign_in_routers() -> list[APIRouter]:
    from authapi.auth import sign_in_endpoints

    return [sign_in_endpoints.router]


def _legacy_routers() -> list[APIRouter]:
    # every original endpoint declared first, so that each has its deprecated copy
    _sign_in_routers()
    return [auth_endpoints.legacy.router]


def _deprecation_notice_routers() -> list[APIRouter]:
    _sign_in_routers()  # the notice lists every copy
    return [auth_endpoints.legacy.notice_router()]


def _lifecycle_routers() -> list[APIRouter]:
    from authapi.lifecycle import endpoints

    return [endpoints.router]


def _mfa_routers() -> list[APIRouter]:
    from authapi.auth import mfa_endpoints

    return [mfa_endpoints.router]


def _event_routers() -> list[APIRouter]:
    from authapi.auth import event_endpoints

    return [event_endpoints.router]


def _admin_routers() -> list[APIRouter]:
    from authapi.admin import endpoints, tenant_endpoints

    return [endpoints.router, tenant_endpoints.router]


def _oauth_routers() -> list[APIRouter]:
    from authapi.oauth import endpoints

    return [endpoints.router]


def _oauth_metadata_routers() -> list[APIRouter]:
    from authapi.oauth import metadata

    return [metadata.router]


def _openapi_with_problem_schema(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        from authapi.oauth.schemas import OAUTH_ERROR_SCHEMA

        load_deferred(app.router)
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = PROBLEM_SCHEMA
        schemas["OAuthError"] = OAUTH_ERROR_SCHEMA  # the one exception: /api/v1/oauth/*
        app.openapi_schema = schema
    return app.openapi_schema


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # only servers with a lifespan (uvicorn) get here; Lambda keeps its engine until it is frozen
    yield
    await app_resources(app).aclose()


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """Build the app. Nothing here connects to anything: resources open on first use.

    Args:
        settings: defaults to the process's (`AUTHAPI_*` environment variables).
        clock: what every time-based decision reads; tests pass one they can move.
    """
    settings = settings or get_settings()
    configure_logging(settings)
    docs = settings.docs_enabled
    app = FastAPI(
        title="authapi",
        version="0.1.0",
        description=(
            "Register, log in, refresh and revoke sessions; RS256 access tokens. Every "
            "`/api/v1/...` and `/.well-known/...` path below is the default tenant's; tenant "
            "`<id>` serves the same at `/t/<id>/api/v1/...` and `/t/<id>/.well-known/...`, with "
            "its own issuer `<issuer>/t/<id>` and keys (an unknown or disabled tenant: 404 "
            "`tenant_not_found`)."
        ),
        docs_url="/docs" if docs else None,
        redoc_url=None,
        openapi_url="/openapi.json" if docs else None,
        lifespan=_lifespan,
        # no 307 from /login/ to /login: it would name whatever Host the client sent, and a 307
        # makes the client post its credentials again, there
        redirect_slashes=False,
    )
    app.state.resources = build_resources(settings, clock=clock)
    # register, login, refresh and logout, then /me: the order they were declared in together
    _defer(app, _v1_auth(auth_endpoints.SIGN_IN_PATHS), _sign_in_routers)
    app.include_router(auth_endpoints.router)
    # the deprecated aliases and their notice, declared and included on first use
    _defer(app, auth_endpoints.LEGACY_PREFIX + "/", _legacy_routers)
    _defer(app, DEPRECATION_NOTICE_PATH, _deprecation_notice_routers)
    app.include_router(session_endpoints.router)
    # imported when a request first needs them (authapi.middleware.deferred_routes), in place
    _defer(app, "/api/v1/auth/", _lifecycle_routers)
    _defer(app, "/api/v1/auth/mfa/", _mfa_routers)
    _defer(app, "/api/v1/auth/me/events", _event_routers)
    _defer(app, "/api/v1/admin", _admin_routers)
    app.include_router(health_endpoints.router)
    app.include_router(jwks.router)
    app.include_router(discovery.router)
    _defer(app, "/api/v1/oauth/", _oauth_routers)
    _defer(app, "/.well-known/oauth-authorization-server", _oauth_metadata_routers)
    register_exception_handlers(app)
    _add_middleware(app, settings)
    # exact paths skip FastAPI's scan of every route (authapi.middleware.route_table)
    app.router.middleware_stack = StaticRouteTable(app.router, app.router.middleware_stack)
    app.openapi = lambda: _openapi_with_problem_schema(app)  # type: ignore[method-assign]
    return app
