"""The debounce window (docs: ARCHITECTURE.md §1), written once and evaluated two ways.

A run is due at the earlier of *last event + quiet period* and *first pending event + max
wait*. "First pending" is the first event the last generation did not cover: an event that
arrives while a generation holds the lease starts a new window, so a stream lasting D seconds
causes at most ceil(D / max wait) + 1 generations, whatever its cadence.

The quiet period fits the run's own cadence: it is `quiet_factor` times the run's typical gap
between events (a moving geometric mean, which follows the median of log-normal gaps), kept
between SCRIPTCACHE_QUIET_S and SCRIPTCACHE_MAX_WAIT_S. A bursty producer (gaps of tenths of a
second) gets SCRIPTCACHE_QUIET_S; an agent whose blocks take 20 s gets minutes, so it is
generated at run_finished and at a checkpoint every max wait, not after every block.

The rule is written against `Ops`, a handful of operations with two interpreters: `PY`
computes values (the generic intake path, every unit test) and `SqlOps` (worker/adapters/sql/block_intake.py) builds SQL expressions
over the record's current row (the one-statement PostgreSQL intake, worker/adapters/sql/block_intake.py).
tests/integration/test_block_intake.py holds the two to each other.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from config.settings import Settings

# The quiet period is this many typical gaps: log-normal agent gaps (median 20 s, 3-120 s)
# exceed 6 medians about 2 % of the time; 10 leaves a margin for a typical gap estimated from
# the first few blocks. It only delays a run that stalls without run_finished (max wait caps it).
QUIET_FACTOR = 10.0
GAP_WEIGHT = 0.25  # weight of the newest gap in the moving geometric mean
MIN_GAP_S = 0.001  # gaps are clamped to this before their logarithm


@dataclass(frozen=True)
class Timing:
    quiet_s: float
    max_wait_s: float
    quiet_factor: float = QUIET_FACTOR
    gap_weight: float = GAP_WEIGHT

    @classmethod
    def of(cls, settings: Settings) -> Timing:
        return cls(
            quiet_s=settings.quiet_s,
            max_wait_s=settings.max_wait_s,
            quiet_factor=settings.quiet_factor,
        )


class Ops(Protocol):
    """What the rule needs, with SQL's NULL semantics: a comparison with NULL is not true,
    arithmetic on NULL is NULL, least/greatest skip NULLs. `then`/`else_` are thunks."""

    def let(self, name: str, value: Any) -> Any: ...
    def if_(self, cond: Any, then: Callable[[], Any], else_: Callable[[], Any]) -> Any: ...
    def is_null(self, value: Any) -> Any: ...
    def lt(self, a: Any, b: Any) -> Any: ...
    def le(self, a: Any, b: Any) -> Any: ...
    def and_(self, a: Any, b: Any) -> Any: ...
    def or_(self, a: Any, b: Any) -> Any: ...
    def mul(self, a: Any, b: float) -> Any: ...
    def coalesce(self, a: Any, b: Any) -> Any: ...
    def least(self, a: Any, b: Any) -> Any: ...
    def greatest(self, a: Any, b: Any) -> Any: ...
    def add_s(self, at: Any, seconds: Any) -> Any: ...
    def seconds(self, later: Any, earlier: Any) -> Any: ...
    def ln(self, value: Any) -> Any: ...
    def exp(self, value: Any) -> Any: ...


class PyOps:
    """Values: aware datetimes, floats, ints and None."""

    def let(self, name: str, value: Any) -> Any:
        return value

    def if_(self, cond: Any, then: Callable[[], Any], else_: Callable[[], Any]) -> Any:
        return then() if cond else else_()

    def is_null(self, value: Any) -> bool:
        return value is None

    def lt(self, a: Any, b: Any) -> bool:
        return a is not None and b is not None and bool(a < b)

    def le(self, a: Any, b: Any) -> bool:
        return a is not None and b is not None and bool(a <= b)

    def and_(self, a: Any, b: Any) -> bool:
        return bool(a) and bool(b)

    def or_(self, a: Any, b: Any) -> bool:
        return bool(a) or bool(b)

    def mul(self, a: Any, b: float) -> Any:
        return None if a is None else a * b

    def coalesce(self, a: Any, b: Any) -> Any:
        return b if a is None else a

    def least(self, a: Any, b: Any) -> Any:
        return min((v for v in (a, b) if v is not None), default=None)

    def greatest(self, a: Any, b: Any) -> Any:
        return max((v for v in (a, b) if v is not None), default=None)

    def add_s(self, at: Any, seconds: Any) -> Any:
        return None if at is None or seconds is None else at + timedelta(seconds=seconds)

    def seconds(self, later: Any, earlier: Any) -> Any:
        return None if later is None or earlier is None else (later - earlier).total_seconds()

    def ln(self, value: Any) -> Any:
        return None if value is None else math.log(value)

    def exp(self, value: Any) -> Any:
        return None if value is None else math.exp(value)


PY = PyOps()


def due_time(
    first_pending_at: Any, last_event_at: Any, *, quiet_s: Any, max_wait_s: float, ops: Ops = PY
) -> Any:
    """The earlier of a quiet period after the last event and the max wait after the first."""
    return ops.least(ops.add_s(first_pending_at, max_wait_s), ops.add_s(last_event_at, quiet_s))


def quiet_for(gap_s: Any, timing: Timing, ops: Ops = PY) -> Any:
    """The run's quiet period: quiet_factor typical gaps, between quiet_s and max_wait_s
    (quiet_s while the run has no gap yet)."""
    scaled = ops.coalesce(ops.mul(gap_s, timing.quiet_factor), timing.quiet_s)
    return ops.greatest(ops.least(scaled, timing.max_wait_s), timing.quiet_s)


def next_gap(gap_s: Any, last_event_at: Any, now: Any, timing: Timing, ops: Ops = PY) -> Any:
    """The run's typical gap after an event at `now`: a moving geometric mean of the gaps
    (the first gap as it is), each gap at least MIN_GAP_S."""

    def mean() -> Any:
        ln_gap = ops.ln(ops.greatest(ops.seconds(now, last_event_at), MIN_GAP_S))
        ln_before = ops.coalesce(ops.ln(gap_s), ln_gap)
        return ops.exp(ln_before * (1 - timing.gap_weight) + ln_gap * timing.gap_weight)

    return ops.if_(ops.is_null(last_event_at), lambda: gap_s, mean)


def after_event(
    row: Any, now: Any, timing: Timing, *, immediate: bool, ops: Ops = PY
) -> dict[str, Any]:
    """The record's new values after an event at `now` (`immediate`: run_finished, due now).

    `row` reads the record as it is: seq, last_event_at, gap_s, first_pending_at,
    first_pending_seq, due_at, leased_seq, lease_until. A window starts when nothing was
    pending, or when this is the first event since a live lease was taken (the generation in
    progress does not cover it)."""
    o = ops
    seq = row.seq + 1
    starts = o.let(
        "w_starts",
        o.or_(
            o.is_null(row.due_at),
            o.and_(o.lt(now, row.lease_until), o.le(row.first_pending_seq, row.leased_seq)),
        ),
    )
    first_at = o.let("w_first_at", o.if_(starts, lambda: now, lambda: row.first_pending_at))
    gap = o.let("w_gap_s", next_gap(row.gap_s, row.last_event_at, now, timing, o))
    due = (
        now
        if immediate
        else due_time(
            first_at, now, quiet_s=quiet_for(gap, timing, o), max_wait_s=timing.max_wait_s, ops=o
        )
    )
    return {
        "seq": seq,
        "last_event_at": now,
        "gap_s": gap,
        "first_pending_at": first_at,
        "first_pending_seq": o.if_(starts, lambda: seq, lambda: row.first_pending_seq),
        "due_at": due,
    }
