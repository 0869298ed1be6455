"""What to do after a generation failed: one pure decision, from the error and the counts.

Like procrastinate's retry strategy, the answer is a small frozen value; the caller applies
it (give the lease back due later, clear the record and dead-letter, or do nothing).
Unexpected errors (programming errors, anything not named here) are never retried as if they
were transient: they are dead-lettered at once, with their traceback, and logged as errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from config.settings import Settings
from worker.domain.errors import LeaseLost, PermanentError, RunNotStarted, TransientError

# Errors that a later attempt can get past: ours, database or network blips, and a generation
# that ran into the soft time limit (a slow store). The Celery tasks retry the same ones
# (tasks/common.py).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    OperationalError,
    InterfaceError,
    ConnectionError,
    TimeoutError,
    SoftTimeLimitExceeded,
)


@dataclass(frozen=True)
class Retry:
    """Give the lease back; the run is due again after `delay_s`."""

    delay_s: float
    counts: bool = True  # counts against SCRIPTCACHE_MAX_RETRIES (waiting for run_started does not)
    reason: str = ""


@dataclass(frozen=True)
class GiveUp:
    """Clear the record and dead-letter the request."""

    reason: str
    unexpected: bool = False  # a programming error: log it as an error, with its traceback


@dataclass(frozen=True)
class Drop:
    """Another worker owns the run now; this one's work was rolled back: do nothing."""

    reason: str


def backoff_s(attempts: int, *, base_s: float = 1.0, max_s: float = 120.0) -> float:
    """Exponential backoff for a failed generation: 1, 2, 4 ... seconds, capped."""
    return float(min(max_s, base_s * 2 ** max(0, attempts - 1)))


def exhausted(attempts: int, settings: Settings) -> bool:
    """The claim that would start attempt `attempts` is over the retry budget."""
    return attempts > settings.max_retries + 1


# SQLSTATE classes a later attempt can get past: connection exceptions, transaction rollbacks
# (serialization failures, deadlocks), insufficient resources, operator intervention (a
# restart) and system errors; and lock_not_available. Everything else the database answers
# with (a value too long, a constraint violated, a program limit such as an index row too
# large) fails the same way every time: permanent.
RETRYABLE_SQLSTATE_CLASSES = frozenset({"08", "40", "53", "57", "58"})
RETRYABLE_SQLSTATES = frozenset({"55P03"})


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        state = getattr(exc.orig, "sqlstate", None)
        if isinstance(state, str) and state:
            return state[:2] in RETRYABLE_SQLSTATE_CLASSES or state in RETRYABLE_SQLSTATES
    return isinstance(exc, TRANSIENT_ERRORS)


def after_failure(
    exc: BaseException, *, attempts: int, waited_s: float, settings: Settings
) -> Retry | GiveUp | Drop:
    """Decide what a failed generation attempt leads to.

    `attempts` counts this attempt; `waited_s` is how long the run has been pending."""
    described = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, LeaseLost):
        return Drop(f"rolled back: {exc}")
    if isinstance(exc, RunNotStarted):
        if waited_s > settings.run_start_wait_s:
            return GiveUp(
                f"run_started never arrived ({waited_s:.0f} s, over "
                f"SCRIPTCACHE_RUN_START_WAIT_S={settings.run_start_wait_s:g})"
            )
        return Retry(
            backoff_s(attempts, max_s=settings.retry_backoff_max_s),
            counts=False,
            reason="waiting for run_started",
        )
    if isinstance(exc, PermanentError):
        return GiveUp(described)
    if is_transient(exc):
        if exhausted(attempts + 1, settings):  # no attempt is left: say why, now
            return GiveUp(f"gave up after {attempts} attempts: {described}")
        return Retry(
            backoff_s(attempts, max_s=settings.retry_backoff_max_s),
            reason=f"retrying after {described}",
        )
    return GiveUp(f"unexpected error: {described}", unexpected=True)
