"""Due-time arithmetic and backoff: pure functions, from tables of cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from worker.debounce import due_time
from worker.retry import backoff_s

T = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def s(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


@pytest.mark.parametrize(("first", "last", "quiet", "max_wait", "due"), [
    pytest.param(0, 0, 2, 30, 2, id="a single event is due one quiet period later"),
    pytest.param(0, 10, 2, 30, 12, id="a burst is due a quiet period after its last event"),
    pytest.param(0, 29, 2, 30, 30, id="the max wait caps a burst that keeps going"),
    pytest.param(0, 100, 2, 30, 30, id="a long stream is due max wait after its first event"),
    pytest.param(5, 5, 0.5, 1, 5.5, id="sub-second quiet periods work"),
])
def test_a_run_is_due_at_the_earlier_of_quiet_period_and_max_wait(
    first: float, last: float, quiet: float, max_wait: float, due: float,
) -> None:
    assert due_time(s(first), s(last), quiet_s=quiet, max_wait_s=max_wait) == s(due)


@pytest.mark.parametrize(("attempts", "expected"), [
    (0, 1.0), (1, 1.0), (2, 2.0), (3, 4.0), (6, 32.0), (8, 120.0), (50, 120.0),
])
def test_backoff_doubles_per_attempt_up_to_its_cap(attempts: int, expected: float) -> None:
    assert backoff_s(attempts, max_s=120.0) == expected
