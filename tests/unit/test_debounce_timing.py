"""The debounce window (worker/domain/window.py) and the retry backoff: pure functions, from tables."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from worker.app.retry import backoff_s
from worker.domain.window import Timing, after_event, due_time, next_gap, quiet_for

T = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
TIMING = Timing(quiet_s=2.0, max_wait_s=30.0, quiet_factor=10.0, gap_weight=0.25)


def s(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("first", "last", "quiet", "max_wait", "due"),
    [
        pytest.param(0, 0, 2, 30, 2, id="a single event is due one quiet period later"),
        pytest.param(0, 10, 2, 30, 12, id="a burst is due a quiet period after its last event"),
        pytest.param(0, 29, 2, 30, 30, id="the max wait caps a burst that keeps going"),
        pytest.param(0, 100, 2, 30, 30, id="a long stream is due max wait after its first event"),
        pytest.param(5, 5, 0.5, 1, 5.5, id="sub-second quiet periods work"),
    ],
)
def test_a_run_is_due_at_the_earlier_of_quiet_period_and_max_wait(
    first: float,
    last: float,
    quiet: float,
    max_wait: float,
    due: float,
) -> None:
    assert due_time(s(first), s(last), quiet_s=quiet, max_wait_s=max_wait) == s(due)


@pytest.mark.parametrize(
    ("gap_s", "quiet_s"),
    [
        pytest.param(None, 2.0, id="no gap seen yet: the configured quiet period"),
        pytest.param(0.05, 2.0, id="a bursty producer gets the configured quiet period"),
        pytest.param(0.5, 5.0, id="half-second gaps: ten of them"),
        pytest.param(2.0, 20.0, id="two-second gaps: twenty seconds"),
        pytest.param(20.0, 30.0, id="an agent's twenty-second blocks: capped at the max wait"),
    ],
)
def test_the_quiet_period_is_ten_typical_gaps_between_quiet_s_and_max_wait(
    gap_s: float | None,
    quiet_s: float,
) -> None:
    assert quiet_for(gap_s, TIMING) == pytest.approx(quiet_s)


@pytest.mark.parametrize(
    ("before", "last", "now", "after"),
    [
        pytest.param(None, None, 0, None, id="the run's first event has no gap"),
        pytest.param(None, 0, 20, 20.0, id="its second event: the first gap as it is"),
        pytest.param(20.0, 0, 20, 20.0, id="an equal gap keeps the mean"),
        pytest.param(
            20.0,
            0,
            320,
            math.exp(0.75 * math.log(20) + 0.25 * math.log(320)),
            id="a long gap moves the geometric mean by a quarter of its logarithm",
        ),
        pytest.param(
            1.0,
            5,
            5,
            math.exp(0.25 * math.log(0.001)),
            id="simultaneous events count as one millisecond",
        ),
    ],
)
def test_the_typical_gap_is_a_moving_geometric_mean(
    before: float | None,
    last: float | None,
    now: float,
    after: float | None,
) -> None:
    got = next_gap(before, None if last is None else s(last), s(now), TIMING)
    assert got == (None if after is None else pytest.approx(after))


def record(**values: Any) -> SimpleNamespace:
    row = dict(
        seq=0,
        last_event_at=None,
        gap_s=None,
        first_pending_at=None,
        first_pending_seq=None,
        due_at=None,
        leased_seq=None,
        lease_until=None,
    )
    row.update(values)
    return SimpleNamespace(**row)


@pytest.mark.parametrize(
    ("row", "now", "immediate", "first", "first_seq", "due"),
    [
        pytest.param(record(), 0, False, 0, 1, 2, id="an idle record starts a window now"),
        pytest.param(
            record(
                seq=3,
                last_event_at=s(9),
                gap_s=1.0,
                first_pending_at=s(0),
                first_pending_seq=1,
                due_at=s(11),
            ),
            10,
            False,
            0,
            1,
            20,
            id="a pending record keeps its window; quiet is ten gaps",
        ),
        pytest.param(
            record(
                seq=3,
                last_event_at=s(27),
                gap_s=1.0,
                first_pending_at=s(0),
                first_pending_seq=1,
                due_at=s(29),
            ),
            28,
            False,
            0,
            1,
            30,
            id="the max wait after the window's first event caps it",
        ),
        pytest.param(
            record(
                seq=3,
                last_event_at=s(30),
                gap_s=1.0,
                first_pending_at=s(0),
                first_pending_seq=1,
                due_at=s(30),
                leased_seq=3,
                lease_until=s(60),
            ),
            31,
            False,
            31,
            4,
            41,
            id="the first event during a live generation starts the next window",
        ),
        pytest.param(
            record(
                seq=4,
                last_event_at=s(31),
                gap_s=1.0,
                first_pending_at=s(31),
                first_pending_seq=4,
                due_at=s(41),
                leased_seq=3,
                lease_until=s(60),
            ),
            32,
            False,
            31,
            4,
            42,
            id="later events during that generation stay in the new window",
        ),
        pytest.param(
            record(
                seq=3,
                last_event_at=s(29),
                gap_s=1.0,
                first_pending_at=s(0),
                first_pending_seq=1,
                due_at=s(30),
                leased_seq=3,
                lease_until=s(30.5),
            ),
            31,
            False,
            0,
            1,
            30,
            id="an expired lease (a dead worker) does not restart the window",
        ),
        pytest.param(
            record(
                seq=3,
                last_event_at=s(9),
                gap_s=1.0,
                first_pending_at=s(0),
                first_pending_seq=1,
                due_at=s(11),
            ),
            10,
            True,
            0,
            1,
            10,
            id="run_finished is due at once",
        ),
    ],
)
def test_an_event_moves_the_window_by_one_rule(
    row: SimpleNamespace,
    now: float,
    immediate: bool,
    first: float,
    first_seq: int,
    due: float,
) -> None:
    after = after_event(row, s(now), TIMING, immediate=immediate)
    assert (after["first_pending_at"], after["first_pending_seq"], after["seq"]) == (
        s(first),
        first_seq,
        row.seq + 1,
    )
    assert after["due_at"] == s(due)


def generations(gap_s: float, duration_s: float, timing: Timing, generate_s: float) -> int:
    """Events every gap_s for duration_s, each due record generated (taking generate_s) at its
    due time: the claim and compare-and-clear of worker/adapters/sql/debounce.py, on one record."""
    row, count, now, lease_ends = record(), 0, 0.0, None
    events = [i * gap_s for i in range(int(duration_s / gap_s) + 1)]
    while events or row.due_at is not None:
        due = None if row.due_at is None or row.leased_seq is not None else row.due_at
        if lease_ends is not None and (not events or s(events[0]) >= lease_ends):
            count += 1  # compare-and-clear
            row.leased_seq = row.lease_until = None
            if row.seq == row.seq_claimed:  # nothing arrived meanwhile: clear the record
                row.due_at = row.first_pending_seq = row.first_pending_at = None
            now, lease_ends = (lease_ends - T).total_seconds(), None
        elif due is not None and (not events or due <= s(events[0])):
            now = (due - T).total_seconds()  # claim
            row.leased_seq, row.seq_claimed = row.seq, row.seq
            row.lease_until = s(now + 60)
            lease_ends = s(now + generate_s)
        else:
            now = events.pop(0)
            for key, value in after_event(row, s(now), timing, immediate=False).items():
                setattr(row, key, value)
    return count


@pytest.mark.parametrize(
    ("gap_s", "duration_s", "max_wait_s", "generate_s"),
    [
        pytest.param(0.5, 14, 6, 0.3, id="the issue's stream: 0.5 s apart for 14 s, max wait 6"),
        pytest.param(0.5, 15, 4, 0.3, id="thirty blocks 0.5 s apart, max wait 4"),
        pytest.param(0.1, 60, 4, 1.5, id="generations slower than the events"),
        pytest.param(3.0, 60, 10, 0.5, id="gaps longer than the configured quiet period"),
    ],
)
def test_a_steady_stream_gets_at_most_one_generation_per_max_wait_plus_one(
    gap_s: float,
    duration_s: float,
    max_wait_s: float,
    generate_s: float,
) -> None:
    timing = Timing(quiet_s=1.0, max_wait_s=max_wait_s)
    assert (
        generations(gap_s, duration_s, timing, generate_s) <= math.ceil(duration_s / max_wait_s) + 1
    )


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [
        (0, 1.0),
        (1, 1.0),
        (2, 2.0),
        (3, 4.0),
        (6, 32.0),
        (8, 120.0),
        (50, 120.0),
    ],
)
def test_backoff_doubles_per_attempt_up_to_its_cap(attempts: int, expected: float) -> None:
    assert backoff_s(attempts, max_s=120.0) == expected
