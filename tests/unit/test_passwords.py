"""The dummy hash unknown emails are checked against costs what a real account's hash costs."""

from __future__ import annotations

import asyncio

import pytest
from argon2 import extract_parameters

from authapi.config import Settings
from authapi.passwords import PasswordHashing

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(("memory", "time_cost"), [(1024, 1), (2048, 3)])
def test_the_dummy_hash_has_the_configured_cost(
    memory: int, time_cost: int, hash_verifications: list[str]
) -> None:
    settings = Settings(_env_file=None, argon2_memory_cost_kib=memory, argon2_time_cost=time_cost)
    hashing = PasswordHashing.from_settings(settings)

    real = extract_parameters(asyncio.run(hashing.hash("correct horse battery staple")))
    asyncio.run(hashing.verify_dummy("a guess"))
    dummy = extract_parameters(hash_verifications[-1])

    assert dummy == real
    assert (dummy.memory_cost, dummy.time_cost) == (memory, time_cost)
