"""The two-tenant isolation suite (issue 17), MFA: a challenge of tenant A is refused at B (and
still answerable at A), and enrolling A's account asks nothing more of B's same-email account.
Directions and accounts as in test_isolation_accounts.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

import pytest

from tests.support.mfa import LOGIN, MFA
from tests.support.problems import assert_problem
from tests.support.tenancy import (
    DIRECTIONS,
    V1,
    Twin,
    World,
    direction_id,
    enrolled_in,
    make_twin,
    same_answer,
    two_tenant_world,
)

if TYPE_CHECKING:
    from authapi.config import Settings
    from tests.support.db import ScratchDatabase

pytestmark = [pytest.mark.integration, pytest.mark.head_schema]


@pytest.fixture(scope="module")
async def world(settings: Settings, test_database: ScratchDatabase) -> AsyncIterator[World]:
    async with two_tenant_world(settings, test_database) as world:
        yield world


@pytest.fixture(params=DIRECTIONS, ids=direction_id)
async def twin(request: pytest.FixtureRequest, world: World) -> Twin:
    return await make_twin(world, request.param)


async def test_a_challenge_of_a_is_refused_at_b_and_enrolment_stays_in_a(
    world: World, twin: Twin
) -> None:
    a, b, clock = world.at(twin.a_tenant), world.at(twin.b_tenant), world.clock
    user = await enrolled_in(a, clock, twin.a)

    # B's same-email account asks for no second factor: its login gives tokens at once
    login = await b.post(LOGIN, json=twin.b.credentials)
    assert (login.status, login.body["token_type"]) == (200, "bearer"), login
    # and A's authenticator is not B's: a step-up at B with A's code finds no factor there
    stepped = await b.post(f"{MFA}/step-up", json={"code": user.code(clock)}, headers=twin.b.auth)
    assert_problem(stepped, 409, "mfa_not_enrolled")

    challenged = await a.post(LOGIN, json=twin.a.credentials)
    assert challenged.status == 202, challenged
    challenge = challenged.body["challenge"]
    unknown = await b.post(
        f"{MFA}/challenge", json={"challenge": "x" * len(challenge), "code": user.code(clock)}
    )
    assert_problem(unknown, 401, "invalid_mfa_challenge")
    for answer in ({"code": user.code(clock)}, {"recovery_code": user.recovery_codes[0]}):
        refused = await b.post(f"{MFA}/challenge", json={"challenge": challenge, **answer})
        same_answer(refused, unknown)

    # refused at B without spending anything at A: the same challenge, code and recovery code work
    answered = await a.post(
        f"{MFA}/challenge", json={"challenge": challenge, "code": user.code(clock)}
    )
    assert answered.status == 200, answered
    again = await a.post(LOGIN, json=twin.a.credentials)
    recovered = await a.post(
        f"{MFA}/challenge",
        json={"challenge": again.body["challenge"], "recovery_code": user.recovery_codes[0]},
    )
    assert recovered.status == 200, recovered
    assert (await b.get(f"{V1}/me", headers=twin.b.auth)).status == 200
