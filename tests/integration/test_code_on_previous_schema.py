"""Expand and contract, the other way round: this code serves the schema from before its newest
migration, and what it did there keeps working once that migration is applied under it.

`test_previous_code_on_new_schema.py` runs the previous release on the new schema (a deploy
shifts traffic after migrating); this runs the refresh, session and OAuth flows of the current
code on the old one (the Precisions of issue 11: "the new code works on both the old and the new
schema"; issue 12's `client_id`, which the old schema cannot record), then migrates the same
database to head with those sessions live, as the deploy does, and carries on with the tokens
issued before it. As the app's own database role, as in AWS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from authapi.app import create_app
from authapi.config import Settings
from authapi.db.engine import create_engine
from authapi.migrations import head_revisions, previous_revision, upgrade_to_head
from tests.support.accounts import register
from tests.support.db import ScratchDatabase, sibling_database
from tests.support.http import ApiClient, Reply, serving
from tests.support.oauth import OAUTH_SETTINGS, PUBLIC_CLIENT, REVOKE, TOKEN
from tests.support.settings import make_settings

pytestmark = pytest.mark.integration

SESSIONS = "/api/v1/auth/sessions"
BROWSER = "Mozilla/5.0 (previous schema)"


@pytest.fixture
async def previous_schema(test_database: ScratchDatabase) -> AsyncIterator[ScratchDatabase]:
    async with sibling_database(test_database, revision=previous_revision()) as database:
        yield database


def _as_app(database: ScratchDatabase) -> ScratchDatabase:
    url = make_url(database.url).set(username=f"{database.role_prefix}_app")
    return ScratchDatabase(
        url=url.render_as_string(hide_password=False),
        server=None,
        direct_url=database.direct_url,
        role_prefix=database.role_prefix,
    )


async def _oauth(client: ApiClient, **form: str) -> Reply:
    """The OAuth token endpoint, as the public test client (a refresh grant unless told)."""
    body = {"grant_type": "refresh_token", "client_id": PUBLIC_CLIENT, **form}
    return await client.post(TOKEN, data=body)


async def _refresh(client: ApiClient, token: str) -> Reply:
    return await client.post("/api/auth/refresh-token", json={"refresh_token": token})


def _bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


async def _migrate_to_head(database: ScratchDatabase) -> None:
    url = database.direct_url or database.url
    engine = create_engine(Settings(environment="test", database_url=url))
    try:
        applied = await upgrade_to_head(engine, role_prefix=database.role_prefix)
    finally:
        await engine.dispose()
    assert applied == head_revisions()


async def _columns(database: ScratchDatabase) -> set[str]:
    rows = await database.fetch(
        "SELECT table_name || '.' || column_name AS name FROM information_schema.columns "
        "WHERE table_name IN ('auth_sessions', 'refresh_tokens')"
    )
    return {row["name"] for row in rows}


async def test_refresh_and_sessions_work_before_and_across_the_newest_migration(
    previous_schema: ScratchDatabase, signing_key_pem: str
) -> None:
    assert "auth_sessions.client_id" not in await _columns(previous_schema)
    settings = make_settings(_as_app(previous_schema), signing_key_pem, **OAUTH_SETTINGS)
    async with serving(create_app(settings)) as client:
        # before the migration: every flow, the OAuth token endpoint's included, without the
        # column that records a session's client
        account = await register(client)
        login = await client.post(
            "/api/auth/login", json=account.credentials, headers={"User-Agent": BROWSER}
        )
        assert login.status == 200
        phone = login.body
        first = await _refresh(client, account.refresh_token)
        assert first.status == 200
        repeat = await _refresh(client, account.refresh_token)  # the lost-response retry
        assert repeat.body["refresh_token"] == first.body["refresh_token"]
        converged = await client.gather(5, lambda: _refresh(client, phone["refresh_token"]))
        assert {reply.status for reply in converged} == {200}
        assert len({reply.body["refresh_token"] for reply in converged}) == 1
        phone_token = converged[0].body["refresh_token"]
        listed = await client.get(SESSIONS, headers=_bearer(first.body["access_token"]))
        assert listed.status == 200
        assert BROWSER in [s["user_agent"] for s in listed.body["sessions"]]
        stranger = await register(client)
        ended = await client.request(
            "DELETE", f"{SESSIONS}/{stranger.session_id}", headers=_bearer(phone["access_token"])
        )
        assert ended.status == 404
        spare = (await client.post("/api/auth/login", json=account.credentials)).body
        others = await client.post(
            "/api/auth/logout", headers=_bearer(spare["access_token"]), params={"scope": "others"}
        )
        assert others.status == 204
        assert (await _refresh(client, phone_token)).body["code"] == "invalid_refresh_token"
        second = (await _refresh(client, spare["refresh_token"])).body
        third = (await _refresh(client, second["refresh_token"])).body
        mobile = await _oauth(
            client, grant_type="password", username=account.email, password=account.password
        )
        assert mobile.status == 200
        mobile_next = await _oauth(client, refresh_token=mobile.body["refresh_token"])
        assert mobile_next.status == 200
        revoked = await client.post(
            REVOKE, data={"token": phone["access_token"], "client_id": PUBLIC_CLIENT}
        )
        assert revoked.status == 200

        # the deploy: the migration runs while these sessions are live
        await _migrate_to_head(previous_schema)
        assert "auth_sessions.client_id" in await _columns(previous_schema)

        # what was issued before it goes on working after it, on the same app
        assert (await client.get("/api/auth/me", headers=_bearer(third["access_token"]))).status
        # the token spent just before the migration repeats to the same successor...
        again = await _refresh(client, second["refresh_token"])
        assert again.body["refresh_token"] == third["refresh_token"]
        # ...and the chain rotates on: a session without a client is the default client's
        fourth = await _refresh(client, third["refresh_token"])
        assert fourth.status == 200
        assert (await _oauth(client, refresh_token=fourth.body["refresh_token"])).body[
            "error"
        ] == "invalid_grant"
        # sessions opened now record their client
        newer = await _oauth(
            client, grant_type="password", username=account.email, password=account.password
        )
        assert (await _oauth(client, refresh_token=newer.body["refresh_token"])).status == 200
        assert (await _refresh(client, account.refresh_token)).body["code"] == (
            "refresh_token_reused"  # an old generation is still reuse, across the migration
        )
