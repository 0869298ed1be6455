"""The clock seam: the use cases take a `Clock` (as they take Settings) and time rules take
`now` explicitly, so they are testable without sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The real clock (what the composition root passes in)."""
    return datetime.now(UTC)


class ManualClock:
    """The in-memory twin: time stands still until a test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now
