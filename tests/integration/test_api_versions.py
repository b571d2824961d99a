"""/api/v1/auth/... is canonical; the five original /api/auth/... paths are deprecated aliases
(RFC 9745 Deprecation, RFC 8594 Sunset, Link to the successor and to the notice)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import pytest
from fastapi import FastAPI

from authapi.api_versions import LEGACY_DEPRECATED_AT, LEGACY_SUNSET_AT
from tests.support.accounts import STRONG_PASSWORD, unique_email
from tests.support.http import ApiClient, ClientWith, Reply

pytestmark = pytest.mark.integration

ORIGINAL = {
    ("post", "/api/auth/register"): "/api/v1/auth/register",
    ("post", "/api/auth/login"): "/api/v1/auth/login",
    ("post", "/api/auth/refresh-token"): "/api/v1/auth/refresh-token",
    ("post", "/api/auth/logout"): "/api/v1/auth/logout",
    ("get", "/api/auth/me"): "/api/v1/auth/me",
}
DEPRECATION_HEADERS = ("deprecation", "sunset", "link")


def _assert_deprecated(reply: Reply, successor: str) -> None:
    # RFC 9745: a structured-field date, "@" and seconds since the epoch
    deprecation = reply.headers["deprecation"]
    assert deprecation == f"@{int(LEGACY_DEPRECATED_AT.timestamp())}"
    # RFC 8594: an HTTP-date, after the deprecation
    sunset = parsedate_to_datetime(reply.headers["sunset"])
    assert reply.headers["sunset"].endswith(" GMT")
    assert sunset == LEGACY_SUNSET_AT > LEGACY_DEPRECATED_AT
    link = reply.headers["link"]
    assert f'<{successor}>; rel="successor-version"' in link
    assert '</api/v1/deprecations>; rel="deprecation"' in link


def _assert_current(reply: Reply) -> None:
    assert not [name for name in DEPRECATION_HEADERS if name in reply.headers]


async def test_the_whole_flow_runs_on_v1_without_deprecation(client: ApiClient) -> None:
    credentials = {"email": unique_email(), "password": STRONG_PASSWORD}
    registered = await client.post("/api/v1/auth/register", json=credentials)
    login = await client.post("/api/v1/auth/login", json=credentials)
    bearer = {"Authorization": f"Bearer {login.body['access_token']}"}
    me = await client.get("/api/v1/auth/me", headers=bearer)
    refreshed = await client.post(
        "/api/v1/auth/refresh-token", json={"refresh_token": login.body["refresh_token"]}
    )
    logout = await client.post("/api/v1/auth/logout", headers=bearer)
    after = await client.get("/api/v1/auth/me", headers=bearer)

    statuses = [r.status for r in (registered, login, me, refreshed, logout, after)]
    assert statuses == [201, 200, 200, 200, 204, 401]
    assert me.body["email"] == credentials["email"]
    for reply in (registered, login, me, refreshed, logout, after):
        _assert_current(reply)


async def test_each_alias_answers_as_its_successor_with_the_deprecation_headers(
    client: ApiClient,
) -> None:
    credentials = {"email": unique_email(), "password": STRONG_PASSWORD}
    registered = await client.post("/api/auth/register", json=credentials)
    login = await client.post("/api/auth/login", json=credentials)
    bearer = {"Authorization": f"Bearer {login.body['access_token']}"}
    me = await client.get("/api/auth/me", headers=bearer)
    refreshed = await client.post(
        "/api/auth/refresh-token", json={"refresh_token": login.body["refresh_token"]}
    )
    logout = await client.post("/api/auth/logout", headers=bearer)

    assert [r.status for r in (registered, login, me, refreshed, logout)] == [
        201,
        200,
        200,
        200,
        204,
    ]
    for reply, successor in zip(
        (registered, login, refreshed, logout, me),
        ORIGINAL.values(),
        strict=True,
    ):
        _assert_deprecated(reply, successor)


async def test_an_error_on_an_alias_carries_the_headers_too(client: ApiClient) -> None:
    unauthenticated = await client.get("/api/auth/me")
    invalid = await client.post("/api/auth/register", json={"email": "nope"})

    assert (unauthenticated.status, unauthenticated.code) == (401, "not_authenticated")
    assert invalid.status == 422
    _assert_deprecated(unauthenticated, "/api/v1/auth/me")
    _assert_deprecated(invalid, "/api/v1/auth/register")


async def test_tokens_from_one_version_work_on_the_other(client: ApiClient) -> None:
    credentials = {"email": unique_email(), "password": STRONG_PASSWORD}
    old = await client.post("/api/auth/register", json=credentials)

    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {old.body['access_token']}"}
    )
    refreshed = await client.post(
        "/api/v1/auth/refresh-token", json={"refresh_token": old.body["refresh_token"]}
    )

    assert (me.status, refreshed.status) == (200, 200)


async def test_the_deprecation_link_leads_to_the_notice(client: ApiClient) -> None:
    notice = await client.get("/api/v1/deprecations")

    assert notice.status == 200
    assert notice.headers["cache-control"].startswith("public")
    listed = {
        (entry["methods"][0].lower(), entry["path"]): entry for entry in notice.body["deprecated"]
    }
    assert {key: entry["successor"] for key, entry in listed.items()} == ORIGINAL
    for entry in listed.values():
        assert datetime.fromisoformat(entry["deprecation"]) == LEGACY_DEPRECATED_AT
        assert datetime.fromisoformat(entry["sunset"]) == LEGACY_SUNSET_AT
    assert LEGACY_SUNSET_AT.tzinfo is UTC


def test_openapi_marks_exactly_the_aliases_deprecated_each_with_its_own_operation_id(
    app: FastAPI,
) -> None:
    paths = app.openapi()["paths"]
    operations = {
        (method, path): operation
        for path, item in paths.items()
        for method, operation in item.items()
    }
    deprecated = {key for key, operation in operations.items() if operation.get("deprecated")}
    assert deprecated == set(ORIGINAL)
    ids = [operation["operationId"] for operation in operations.values()]
    assert len(ids) == len(set(ids))
    for (method, alias), successor in ORIGINAL.items():
        old, new = operations[(method, alias)], operations[(method, successor)]
        # same contract: request body and every documented answer
        assert old.get("requestBody") == new.get("requestBody")
        assert old["responses"] == new["responses"]
    # everything else lives under /api/v1/ (or is a well-known document or the health check)
    unversioned = {
        path
        for _, path in set(operations) - deprecated
        if not path.startswith(("/api/v1/", "/.well-known/")) and path != "/health"
    }
    assert unversioned == set()


async def test_a_browser_may_read_the_deprecation_headers(client_with: ClientWith) -> None:
    async with client_with(allowed_origins=["https://app.example"]) as client:
        reply = await client.get("/api/auth/me", headers={"Origin": "https://app.example"})

    exposed = {name.strip() for name in reply.headers["access-control-expose-headers"].split(",")}
    assert set(DEPRECATION_HEADERS) <= exposed
    _assert_deprecated(reply, "/api/v1/auth/me")


def test_the_headers_known_before_the_sign_in_routes_load_are_those_they_declare() -> None:
    # app.py hands the front middleware legacy_headers() at create_app, before the sign-in
    # routes (deferred) have declared their copies: it must name exactly what they declare
    from authapi.auth import endpoints, sign_in_endpoints

    declared = {
        alias.path: endpoints.legacy.headers_for(alias.successor)
        for alias in endpoints.legacy.aliases
    }
    assert endpoints.legacy_headers() == declared
    assert {(method.lower(), path) for path in declared for method in _methods(path)} == set(
        ORIGINAL
    )
    assert [getattr(route, "path", None) for route in sign_in_endpoints.router.routes] == [
        "/api/v1/auth" + path for path in endpoints.SIGN_IN_PATHS
    ]


def _methods(alias: str) -> tuple[str, ...]:
    from authapi.auth.endpoints import legacy

    return next(entry.methods for entry in legacy.aliases if entry.path == alias)
