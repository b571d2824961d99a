"""Lockout delays: none before the threshold, doubling after it, never past the cap."""

from __future__ import annotations

import pytest

from authapi.abuse.login_throttle import lockout_seconds
from authapi.config import Settings

pytestmark = pytest.mark.unit


def test_delays_double_up_to_the_cap() -> None:
    settings = Settings(_env_file=None)
    delays = [lockout_seconds(settings, failures) for failures in range(1, 12)]
    assert delays == [0, 0, 0, 0, 30, 60, 120, 240, 480, 900, 900]


def test_huge_failure_counts_stay_at_the_cap() -> None:
    assert lockout_seconds(Settings(_env_file=None), 10_000) == 900
