"""The one clock every time-based decision reads: token lifetimes, limits, locks, retention.

Decision code never calls `datetime.now()` or SQL `now()`: it asks the clock it was given, so tests
move time instead of sleeping, and every instance of a decision in one request sees one "now".
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)
