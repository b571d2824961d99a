"""examples/resource_server against the real authapi: its tokens get in, forged ones get
authapi's own 401, and the route with the online check sees a logout at once."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from resource_server.app import create_app

from authapi_client.fastapi import Introspector
from tests.sdk.kit.service import FOREIGN_KEY, Service
from tests.support.accounts import Account
from tests.support.http import ASGI_BASE_URL
from tests.support.oauth import CONFIDENTIAL_CLIENT, CONFIDENTIAL_SECRET, INTROSPECT

pytestmark = pytest.mark.integration

INVALID_TOKEN = 'Bearer error="invalid_token"'


def _introspector(service: Service, secret: str = CONFIDENTIAL_SECRET) -> Introspector:
    return Introspector(
        ASGI_BASE_URL + INTROSPECT,
        client_id=CONFIDENTIAL_CLIENT,
        client_secret=secret,
        http=service.http,
    )


@pytest.fixture
async def example(service: Service) -> AsyncIterator[httpx.AsyncClient]:
    """The example service, verifying against `service`, on the ASGI transport."""
    app = create_app(service.verifier(), _introspector(service))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        yield client


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _assert_problem(reply: httpx.Response, status: int, code: str) -> None:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"] == "application/problem+json"
    body = reply.json()
    assert (body["status"], body["code"], body["type"]) == (
        status,
        code,
        f"urn:authapi:problem:{code}",
    )


async def test_a_token_from_authapi_is_accepted(
    service: Service, example: httpx.AsyncClient
) -> None:
    account = await service.account()

    reply = await example.get("/whoami", headers=_bearer(account.access_token))

    assert reply.status_code == 200
    assert reply.json() == {"sub": account.user_id, "amr": ["pwd"], "aal": 1, "checked": "offline"}


@pytest.mark.parametrize("forgery", ["alg_none", "hs256", "foreign", "audience", "token_use"])
async def test_a_forged_token_gets_401_invalid_token(
    service: Service, example: httpx.AsyncClient, forgery: str
) -> None:
    forge, claims = service.forge, service.forge.claims()
    token = {
        "alg_none": lambda: forge.alg_none(claims),
        "hs256": lambda: forge.hs256_with_public_key(claims),
        "foreign": lambda: forge.sign(claims, key=FOREIGN_KEY),
        "audience": lambda: forge.sign({**claims, "aud": "someone-else"}),
        "token_use": lambda: forge.sign({**claims, "token_use": "mfa_enrol"}),
    }[forgery]()

    reply = await example.get("/whoami", headers=_bearer(token))

    _assert_problem(reply, 401, "invalid_token")
    assert reply.headers["www-authenticate"] == INVALID_TOKEN
    assert token not in reply.text


async def test_an_expired_token_gets_401_saying_so(
    service: Service, example: httpx.AsyncClient
) -> None:
    account = await service.account()
    service.clock.advance(service.settings.access_token_ttl_seconds + 60)

    reply = await example.get("/whoami", headers=_bearer(account.access_token))

    _assert_problem(reply, 401, "invalid_token")
    assert reply.headers["www-authenticate"] == INVALID_TOKEN
    assert "expired" in reply.json()["detail"]


@pytest.mark.parametrize("header", [None, "Bearer", "Basic dXNlcjpwYXNz", "bearer"])
async def test_no_bearer_token_gets_401_not_authenticated(
    example: httpx.AsyncClient, header: str | None
) -> None:
    reply = await example.get("/whoami", headers={"authorization": header} if header else {})

    _assert_problem(reply, 401, "not_authenticated")
    assert reply.headers["www-authenticate"] == "Bearer"


async def test_401s_match_what_authapi_itself_answers(
    service: Service, example: httpx.AsyncClient
) -> None:
    forged = service.forge.alg_none(service.forge.claims())
    async with service.api() as api:
        authapi = {
            "missing": await api.get("/api/v1/auth/me"),
            "forged": await api.get("/api/v1/auth/me", token=forged),
        }
    ours = {
        "missing": await example.get("/whoami"),
        "forged": await example.get("/whoami", headers=_bearer(forged)),
    }
    for case, reply in ours.items():
        theirs = authapi[case]
        assert reply.status_code == theirs.status
        assert reply.headers["www-authenticate"] == theirs.headers["www-authenticate"]
        assert reply.headers["content-type"] == theirs.headers["content-type"]
        assert reply.json()["code"] == theirs.body["code"]


async def _logged_out(service: Service, account: Account) -> None:
    async with service.api() as api:
        reply = await api.post("/api/v1/auth/logout", token=account.access_token)
    assert reply.status == 204


async def test_the_online_check_sees_a_logout_at_once(
    service: Service, example: httpx.AsyncClient
) -> None:
    account = await service.account()
    token = _bearer(account.access_token)
    live = await example.post("/account/email", headers=token)
    assert live.status_code == 200
    assert live.json() == {"sub": account.user_id, "checked": "online"}

    await _logged_out(service, account)

    _assert_problem(await example.post("/account/email", headers=token), 401, "invalid_token")
    # offline, the same token still passes: what the online check is for
    assert (await example.get("/whoami", headers=token)).status_code == 200


async def test_the_online_check_fails_closed_when_introspection_refuses_the_client(
    service: Service,
) -> None:
    account = await service.account()
    app = create_app(service.verifier(), _introspector(service, secret="cs_not-the-secret"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://example") as client:
        reply = await client.post("/account/email", headers=_bearer(account.access_token))

    _assert_problem(reply, 503, "auth_unavailable")
    assert reply.headers["retry-after"] == "5"


async def test_the_openapi_lists_the_bearer_scheme_and_the_codes(
    example: httpx.AsyncClient,
) -> None:
    document = (await example.get("/openapi.json")).json()

    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    unauthorized = document["paths"]["/whoami"]["get"]["responses"]["401"]
    schema = unauthorized["content"]["application/problem+json"]["schema"]
    assert schema["properties"]["code"]["enum"] == ["not_authenticated", "invalid_token"]
