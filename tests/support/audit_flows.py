"""The audit rows a request wrote, read back by its X-Request-Id, and the checks every flow's
rows must pass: the request's facts, and nothing secret anywhere in them."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from authapi.config import Settings
from authapi.db.engine import Database
from authapi.db.session import unit_of_work
from authapi.signing.keys import DataKeys
from authapi.users import account_tokens
from tests.support.db import DirectReads
from tests.support.http import Reply

USER_AGENT = "AuditTest/1.0 (flows)"


async def events_of(database: DirectReads, reply: Reply) -> list[dict[str, Any]]:
    """The rows the request wrote, in the order written, each with `queued`: its event waits in
    the outbox."""
    rows = await database.fetch(
        "SELECT a.*, o.event_id IS NOT NULL AS queued FROM audit_events a"
        " LEFT JOIN event_outbox o ON o.event_id = a.id"
        " WHERE a.request_id = $1 ORDER BY a.occurred_at, a.type",
        reply.headers["x-request-id"],
    )
    return [dict(row) for row in rows]


async def only_event(database: DirectReads, reply: Reply) -> dict[str, Any]:
    rows = await events_of(database, reply)
    assert len(rows) == 1, rows
    return rows[0]


def assert_event(
    row: dict[str, Any],
    reply: Reply,
    *,
    type: str,
    user_id: uuid.UUID | str | None,
    ip: str,
    session_id: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
    secrets: tuple[str, ...] = (),
) -> None:
    """The row is `type` of `user_id`, by them, from the request's address, User-Agent and id,
    queued for EventBridge; and none of `secrets` (passwords, tokens, codes, addresses) is
    anywhere in it."""
    expected_user = uuid.UUID(str(user_id)) if user_id is not None else None
    assert row["type"] == type, row
    assert (row["user_id"], row["actor_kind"], row["actor_id"]) == (
        expected_user,
        "user",
        expected_user,
    ), row
    assert (row["ip"], row["user_agent"]) == (ip, USER_AGENT), row
    assert row["request_id"] == reply.headers["x-request-id"]
    assert row["queued"], row
    if session_id is not None:
        assert row["session_id"] == session_id, row
    if details is not None:
        assert json.loads(row["details"]) == details, row
    text = json.dumps(row, default=str).lower()
    for secret in secrets:
        assert secret.lower() not in text, (secret, row)


async def mint_token(
    settings: Settings,
    data_keys: DataKeys,
    *,
    account_id: str,
    email: str,
    purpose: str,
    now: datetime,
    new_email: str | None = None,
    with_code: bool = False,
) -> account_tokens.Minted:
    """A live token (and code) as the mailer would mint it, without the mail round."""
    database = Database(settings)
    try:
        async with unit_of_work(database) as db:
            return await account_tokens.mint(
                db,
                data_keys,
                outbox_id=uuid.uuid4(),
                account_id=uuid.UUID(account_id),
                email=email,
                purpose=purpose,
                now=now,
                expires_at=now + timedelta(minutes=30),
                with_code=with_code,
                new_email=new_email,
            )
    finally:
        await database.dispose()
