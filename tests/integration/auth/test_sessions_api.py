"""GET /api/v1/auth/sessions, DELETE /api/v1/auth/sessions/{id}, and logout's `scope`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.accounts import Account, register
from tests.support.clock import ManualClock
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient, ClientWith, Reply

pytestmark = pytest.mark.integration

SESSIONS = "/api/v1/auth/sessions"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/140.0"


def _bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


async def _login(client: ApiClient, account: Account, user_agent: str = BROWSER) -> dict:
    reply = await client.post(
        "/api/auth/login", json=account.credentials, headers={"User-Agent": user_agent}
    )
    assert reply.status == 200, reply
    return reply.body


async def _sessions(client: ApiClient, access_token: str) -> Reply:
    return await client.get(SESSIONS, headers=_bearer(access_token))


async def _end(client: ApiClient, access_token: str, session_id: object) -> Reply:
    return await client.request("DELETE", f"{SESSIONS}/{session_id}", headers=_bearer(access_token))


def _an_hour_ago() -> ManualClock:
    # tests move it forward to now: access tokens are checked against the real time too
    return ManualClock(datetime.now(UTC) - timedelta(seconds=3600))


def _session_id(access_token: str) -> str:
    import jwt

    return str(jwt.decode(access_token, options={"verify_signature": False})["sid"])


async def test_the_list_shows_each_live_session_with_its_origin(
    client_with: ClientWith, test_database: ScratchDatabase
) -> None:
    clock = _an_hour_ago()
    async with client_with(clock=clock, client_ip="203.0.113.7") as client:
        account = await register(client)
        clock.advance(3600)
        laptop = await _login(client, account)

        reply = await _sessions(client, laptop["access_token"])

    assert reply.status == 200
    assert reply.headers["cache-control"] == "no-store"
    newest, first = reply.body["sessions"]
    assert set(newest) == {"id", "created_at", "last_used_at", "user_agent", "ip", "current"}
    assert newest["id"] == _session_id(laptop["access_token"])
    assert newest["current"] is True
    assert newest["user_agent"] == BROWSER
    assert newest["ip"] == "203.0.113.7"
    assert datetime.fromisoformat(newest["created_at"]) == clock.now()
    assert datetime.fromisoformat(newest["last_used_at"]) == clock.now()
    assert first["id"] == str(account.session_id)
    assert first["current"] is False
    assert first["user_agent"] is None  # registering, the test client sent none
    assert first["ip"] == "203.0.113.7"


async def test_a_refresh_moves_last_used_at(client_with: ClientWith) -> None:
    clock = _an_hour_ago()
    async with client_with(clock=clock) as client:
        account = await register(client)
        clock.advance(3600)
        refreshed = (
            await client.post(
                "/api/auth/refresh-token", json={"refresh_token": account.refresh_token}
            )
        ).body

        (session,) = (await _sessions(client, refreshed["access_token"])).body["sessions"]

    assert datetime.fromisoformat(session["last_used_at"]) == clock.now()
    assert datetime.fromisoformat(session["created_at"]) < clock.now()


async def test_the_user_agent_is_kept_as_sent_up_to_its_limit(
    client: ApiClient, account: Account
) -> None:
    long_agent = "Agent/" + "x" * 400
    tokens = await _login(client, account, user_agent=long_agent)

    sessions = (await _sessions(client, tokens["access_token"])).body["sessions"]

    (current,) = [session for session in sessions if session["current"]]
    assert current["user_agent"] == long_agent[:256]


async def test_the_list_shows_no_ended_session_and_no_other_account(
    client: ApiClient, account: Account
) -> None:
    other_account = await register(client)
    ended = await _login(client, account)
    assert (await client.post("/api/auth/logout", headers=_bearer(ended["access_token"]))).status

    sessions = (await _sessions(client, account.access_token)).body["sessions"]

    assert [session["id"] for session in sessions] == [str(account.session_id)]
    assert str(other_account.session_id) not in {session["id"] for session in sessions}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not.a.jwt"}])
async def test_the_list_needs_a_valid_token(client: ApiClient, headers: dict[str, str]) -> None:
    reply = await client.get(SESSIONS, headers=headers)

    assert reply.status == 401
    assert reply.headers["content-type"] == "application/problem+json"


async def test_the_list_refuses_the_token_of_an_ended_session(
    client: ApiClient, account: Account
) -> None:
    await client.post("/api/auth/logout", headers=account.auth)

    reply = await _sessions(client, account.access_token)

    assert reply.status == 401
    assert reply.body["code"] == "invalid_token"


async def test_ending_another_of_my_sessions_stops_its_tokens_at_once(
    client: ApiClient, account: Account
) -> None:
    phone = await _login(client, account)

    reply = await _end(client, account.access_token, _session_id(phone["access_token"]))

    assert reply.status == 204
    assert (await client.get("/api/auth/me", headers=_bearer(phone["access_token"]))).status == 401
    refresh = await client.post(
        "/api/auth/refresh-token", json={"refresh_token": phone["refresh_token"]}
    )
    assert refresh.body["code"] == "invalid_refresh_token"
    # the caller's own session goes on
    assert (await client.get("/api/auth/me", headers=account.auth)).status == 200
    ids = [s["id"] for s in (await _sessions(client, account.access_token)).body["sessions"]]
    assert ids == [str(account.session_id)]


async def test_ending_my_own_session_logs_me_out(client: ApiClient, account: Account) -> None:
    reply = await _end(client, account.access_token, account.session_id)

    assert reply.status == 204
    assert (await client.get("/api/auth/me", headers=account.auth)).status == 401


async def test_another_accounts_session_is_not_found_and_lives_on(
    client: ApiClient, account: Account, test_database: ScratchDatabase
) -> None:
    victim = await register(client)

    reply = await _end(client, account.access_token, victim.session_id)

    assert reply.status == 404
    assert reply.headers["content-type"] == "application/problem+json"
    assert reply.body["code"] == "session_not_found"
    assert (await client.get("/api/auth/me", headers=victim.auth)).status == 200
    assert (
        await test_database.fetchval(
            "SELECT revoked_at FROM auth_sessions WHERE id = $1", victim.session_id
        )
        is None
    )


async def test_an_unknown_or_ended_session_is_not_found(
    client: ApiClient, account: Account
) -> None:
    ended = await _login(client, account)
    await client.post("/api/auth/logout", headers=_bearer(ended["access_token"]))

    for session_id in (uuid.uuid4(), _session_id(ended["access_token"])):
        reply = await _end(client, account.access_token, session_id)
        assert reply.status == 404
        assert reply.body["code"] == "session_not_found"


async def test_ending_a_session_needs_a_live_caller(client: ApiClient, account: Account) -> None:
    phone = await _login(client, account)
    await client.post("/api/auth/logout", headers=account.auth)

    reply = await _end(client, account.access_token, _session_id(phone["access_token"]))

    assert reply.status == 401
    assert reply.body["code"] == "invalid_token"
    assert (await client.get("/api/auth/me", headers=_bearer(phone["access_token"]))).status == 200


async def test_a_malformed_session_id_is_a_validation_error(
    client: ApiClient, account: Account
) -> None:
    reply = await _end(client, account.access_token, "not-a-uuid")

    assert reply.status == 422
    assert reply.body["code"] == "validation_error"


async def _logout(
    client: ApiClient, access_token: str, scope: str | None, path: str = "/api/auth/logout"
) -> Reply:
    params = {"scope": scope} if scope else None
    return await client.post(path, headers=_bearer(access_token), params=params)


async def _alive(client: ApiClient, *tokens: dict) -> list[bool]:
    return [
        (await client.get("/api/auth/me", headers=_bearer(t["access_token"]))).status == 200
        for t in tokens
    ]


@pytest.mark.parametrize(
    ("scope", "alive"),
    [
        (None, [False, True, True]),
        ("local", [False, True, True]),
        ("others", [True, False, False]),
        ("global", [False, False, False]),
    ],
)
async def test_logout_scopes(
    client: ApiClient, account: Account, scope: str | None, alive: list[bool]
) -> None:
    stranger = await register(client)
    mine = [await _login(client, account) for _ in range(3)]

    reply = await _logout(client, mine[0]["access_token"], scope)

    assert reply.status == 204
    assert await _alive(client, *mine) == alive
    # another account's sessions are never touched
    assert (await client.get("/api/auth/me", headers=stranger.auth)).status == 200


async def test_the_v1_logout_takes_the_same_scopes(client: ApiClient, account: Account) -> None:
    mine = [await _login(client, account) for _ in range(3)]

    reply = await _logout(client, mine[0]["access_token"], "others", path="/api/v1/auth/logout")

    assert reply.status == 204
    assert "deprecation" not in reply.headers
    assert await _alive(client, *mine) == [True, False, False]


async def test_logout_of_others_with_no_other_session_is_fine(client: ApiClient) -> None:
    account = await register(client)
    # the registration's session is the only one
    assert (await _logout(client, account.access_token, "others")).status == 204
    assert (await client.get("/api/auth/me", headers=account.auth)).status == 200


@pytest.mark.parametrize("scope", ["others", "global"])
async def test_logout_with_an_ended_session_ends_nothing(
    client: ApiClient, account: Account, scope: str
) -> None:
    other = await _login(client, account)
    await client.post("/api/auth/logout", headers=account.auth)

    reply = await _logout(client, account.access_token, scope)

    assert reply.status == 401
    assert reply.body["code"] == "invalid_token"
    assert await _alive(client, other) == [True]


async def test_logout_refuses_an_unknown_scope(client: ApiClient, account: Account) -> None:
    reply = await _logout(client, account.access_token, "everything")

    assert reply.status == 422
    assert reply.body["code"] == "validation_error"
    assert (await client.get("/api/auth/me", headers=account.auth)).status == 200
