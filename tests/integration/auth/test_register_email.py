"""What registration says about, and does with, the email it is given (issue 9, item 12)."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.support.accounts import STRONG_PASSWORD
from tests.support.db import ScratchDatabase
from tests.support.http import ApiClient
from tests.support.problems import assert_problem

pytestmark = pytest.mark.integration

REGISTER = "/api/auth/register"


@pytest.mark.parametrize(
    "email", ["ada<script>@example.com", "s3cr3t.pérsonne ü@example.com", "ada@exa_mple.com"]
)
async def test_a_refused_email_is_not_quoted_back(client: ApiClient, email: str) -> None:
    reply = await client.post(REGISTER, json={"email": email, "password": STRONG_PASSWORD})

    assert_problem(reply, 422, "validation_error")
    messages = " ".join(error["msg"] for error in reply.body["errors"])
    assert "not a valid email address" in messages
    for echoed in ("<", "é", "ü", "_", "script", "mple"):
        assert echoed not in messages


def _local_part() -> str:
    return "ada" + uuid.uuid4().hex[:12]


@pytest.mark.parametrize(
    ("look_alike", "why"),
    [
        (lambda local: "".join(chr(ord(c) + 0xFEE0) for c in local), "fullwidth"),
        (lambda local: local.replace("a", "\u0430"), "Cyrillic a"),
        (lambda local: local.replace("a", "\u0251"), "Latin alpha"),
        (lambda local: local.replace("d", "\u0501", 1), "Cyrillic komi de"),
    ],
)
async def test_a_look_alike_of_an_account_is_that_account(
    client: ApiClient, look_alike: object, why: str
) -> None:
    local = _local_part()
    original = await client.post(
        REGISTER, json={"email": f"{local}@example.com", "password": STRONG_PASSWORD}
    )
    assert original.status == 201
    assert callable(look_alike)
    forged = f"{look_alike(local)}@example.com"
    assert forged != f"{local}@example.com"

    reply = await client.post(REGISTER, json={"email": forged, "password": STRONG_PASSWORD})

    assert_problem(reply, 409, "email_taken")


async def test_an_address_in_another_script_alone_still_registers(client: ApiClient) -> None:
    local = "\u043f\u043e\u0447\u0442\u0430" + str(uuid.uuid4().int)[:8]  # "почта" + digits
    reply = await client.post(
        REGISTER, json={"email": f"{local}@example.com", "password": STRONG_PASSWORD}
    )
    assert reply.status == 201


async def test_the_original_after_its_look_alike_is_taken_too(client: ApiClient) -> None:
    # the look-alike registered first: the plain address reads the same, so it is that account
    local = _local_part()
    look_alike = local.replace("a", "\u0430")  # Cyrillic a
    first = await client.post(
        REGISTER, json={"email": f"{look_alike}@example.com", "password": STRONG_PASSWORD}
    )
    assert first.status == 201

    reply = await client.post(
        REGISTER, json={"email": f"{local}@example.com", "password": STRONG_PASSWORD}
    )

    assert_problem(reply, 409, "email_taken")


async def test_look_alikes_racing_to_register_leave_one_account(
    client: ApiClient, test_database: ScratchDatabase
) -> None:
    local = _local_part()
    spellings = [local, local.replace("a", "\u0430"), local.replace("a", "\u0251")] * 3
    replies = await asyncio.gather(
        *(
            client.post(REGISTER, json={"email": f"{s}@example.com", "password": STRONG_PASSWORD})
            for s in spellings
        )
    )
    assert sorted(reply.status for reply in replies) == [201] + [409] * (len(spellings) - 1)
    skeletons = await test_database.fetchval(
        "SELECT count(*) FROM users WHERE email_skeleton = $1", f"{local}@example.com"
    )
    assert skeletons == 1
