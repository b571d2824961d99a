"""Time that moves only when the test moves it: `create_app(settings, clock=ManualClock())`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """An `authapi.clock.Clock` that starts at the real time and then stands still."""

    def __init__(self, start: datetime | None = None):
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a clock tells aware times")
        self._now = moment
