"""Expand and contract, the other way round: this code serves the schema from before its newest
migration, and what it did there keeps working once that migration is applied under it.

`test_previous_code_on_new_schema.py` runs the previous release on the new schema (a deploy
shifts traffic after migrating); this runs the refresh and session flows of the current code on
the old one (the Precisions of issue 11: "the new code works on both the old and the new
schema"), then migrates the same database to head with those sessions live, as the deploy does,
and carries on with the tokens issued before it. As the app's own database role, as in AWS.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import make_url

from authapi.app import create_app
from authapi.config import Settings
from authapi.db.engine import create_engine
from authapi.migrations import head_revisions, upgrade_to_head
from tests.support.accounts import register
from tests.support.db import ScratchDatabase, sibling_database
from tests.support.http import ApiClient, Reply, serving
from tests.support.settings import make_settings

pytestmark = pytest.mark.integration

SESSIONS = "/api/v1/auth/sessions"
BROWSER = "Mozilla/5.0 (previous schema)"


# The schema before the sessions' details (0007), the migration this test was written for; the
# migrations after it (0009, the mail outbox) bring tests of their own (tests/integration/mail)
BEFORE_SESSION_DETAILS = "0006"


@pytest.fixture
async def previous_schema(test_database: ScratchDatabase) -> AsyncIterator[ScratchDatabase]:
    async with sibling_database(test_database, revision=BEFORE_SESSION_DETAILS) as database:
        yield database


def _as_app(database: ScratchDatabase) -> ScratchDatabase:
    url = make_url(database.url).set(username=f"{database.role_prefix}_app")
    return ScratchDatabase(
        url=url.render_as_string(hide_password=False),
        server=None,
        direct_url=database.direct_url,
        role_prefix=database.role_prefix,
    )


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
    assert "auth_sessions.last_used_at" not in await _columns(previous_schema)
    settings = make_settings(_as_app(previous_schema), signing_key_pem)
    async with serving(create_app(settings)) as client:
        # before the migration: every flow of this change, with the details the schema lacks
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
        assert len(listed.body["sessions"]) == 2
        assert all(
            s["user_agent"] is None and s["ip"] is None and s["last_used_at"] is None
            for s in listed.body["sessions"]
        )
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

        # the deploy: the migration runs while these sessions are live
        await _migrate_to_head(previous_schema)
        assert "auth_sessions.last_used_at" in await _columns(previous_schema)

        # what was issued before it goes on working after it, on the same app
        assert (await client.get("/api/auth/me", headers=_bearer(third["access_token"]))).status
        # the token spent just before the migration repeats to the same successor...
        again = await _refresh(client, second["refresh_token"])
        assert again.body["refresh_token"] == third["refresh_token"]
        # ...and the chain rotates on, now recording its use
        fourth = await _refresh(client, third["refresh_token"])
        assert fourth.status == 200
        (session,) = (
            await client.get(SESSIONS, headers=_bearer(fourth.body["access_token"]))
        ).body["sessions"]
        assert session["user_agent"] is None  # not recorded when it began
        assert session["last_used_at"] is not None
        newer = await client.post(
            "/api/auth/login", json=account.credentials, headers={"User-Agent": BROWSER}
        )
        listed = await client.get(SESSIONS, headers=_bearer(newer.body["access_token"]))
        assert [s["user_agent"] for s in listed.body["sessions"]] == [BROWSER, None]
        assert (await _refresh(client, account.refresh_token)).body["code"] == (
            "refresh_token_reused"  # an old generation is still reuse, across the migration
        )
