"""The use cases as the worker runs them: intake with debounce, and generation of a due run
under a lease, fenced by its token."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from worker import debounce
from worker.block_intake import take_in_block
from worker.clock import utcnow
from worker.errors import LeaseLost, PermanentError, RunNotStarted
from worker.events import BlockCompleted, RunFinished, parse_event
from worker.recording import Event, first_delivery, record_event
from worker.service import GenerateResult, generate
from worker.store import BlobStore


@dataclass(frozen=True)
class Intake:
    workflow_run_id: str
    event_type: str
    due_at: datetime
    wake_up: bool  # send a wake-up for due_at (the record just became pending, or is due now)
    duplicate: bool = False  # this event_id was taken in before: nothing changed


def intake(sessions: sessionmaker[Session], raw: Any, expected_type: str, settings: Settings,
           now: datetime | None = None) -> Intake:
    """Validate an event, record it and bump its run's debounce record in one transaction."""
    if isinstance(raw, dict) and settings.max_event_bytes:
        size = len(json.dumps(raw, ensure_ascii=False, separators=(",", ":"))
                   .encode("utf-8", "surrogatepass"))  # lone surrogates: parse_event says so
        if size > settings.max_event_bytes:
            raise PermanentError(
                f"event: {size} bytes, over the limit of {settings.max_event_bytes} "
                "(SCRIPTCACHE_MAX_EVENT_BYTES)")
    event = parse_event(raw)
    if event.type != expected_type:
        raise PermanentError(f"event: type {event.type!r} sent to the {expected_type} task")
    now = now or utcnow()
    with sessions.begin() as session:
        bumped = take_in(session, event, now, settings)
    if bumped is None:
        return Intake(event.workflow_run_id, event.type, now, False, duplicate=True)
    return Intake(event.workflow_run_id, event.type, bumped.due_at, bumped.started_pending)


def take_in(session: Session, event: Event, now: datetime, settings: Settings, *,
            one_statement: bool = True) -> debounce.Bumped | None:
    """Record the event and bump its run's debounce record; None for a redelivery.

    A block event on PostgreSQL takes one statement (worker/block_intake.py); the others, and
    every event on SQLite or with `one_statement=False`, take the generic statements."""
    if (one_statement and isinstance(event, BlockCompleted)
            and session.get_bind().dialect.name == "postgresql"):
        return take_in_block(session, event, now, quiet_s=settings.quiet_s,
                             max_wait_s=settings.max_wait_s)
    if not first_delivery(session, event.event_id, event.workflow_run_id, now):
        return None
    run_id = record_event(session, event)
    return debounce.bump(session, run_id, now, quiet_s=settings.quiet_s,
                         max_wait_s=settings.max_wait_s,
                         immediate=isinstance(event, RunFinished))


@dataclass(frozen=True)
class Outcome:
    """What one generate task did. `rearm_at` asks for another wake-up at that time."""

    result: str
    rearm_at: datetime | None = None
    generation: GenerateResult | None = None


def process_due(sessions: sessionmaker[Session], store: BlobStore, run_id: str,
                settings: Settings) -> Outcome:
    """Claim the run's due record, generate, and compare-and-clear in the same transaction.

    Transient failures give the lease back with a backoff and re-raise (the task retries);
    permanent ones clear the record and re-raise (the task dead-letters the request).
    """
    with sessions.begin() as session:
        held = debounce.claim(session, run_id, utcnow(), lease_s=settings.lease_s)
    if isinstance(held, debounce.Idle):
        return Outcome(held.reason)
    if isinstance(held, debounce.NotDue):
        return Outcome("not due yet", rearm_at=held.due_at)
    if held.attempts > settings.max_retries + 1:
        _give_up(sessions, run_id, held)
        raise PermanentError(f"run {run_id}: gave up after {held.attempts - 1} attempts")
    pending: dict[str, Any] = {}
    try:
        result = generate(sessions, store, run_id,
                          fence=lambda s: _complete(s, run_id, held, pending),
                          repairs_per_day=settings.repairs_per_day)
    except RunNotStarted:
        waited_s = (utcnow() - held.first_pending_at).total_seconds()
        if waited_s > settings.run_start_wait_s:
            _give_up(sessions, run_id, held)
            raise PermanentError(
                f"run {run_id}: run_started never arrived ({waited_s:.0f} s, over "
                f"SCRIPTCACHE_RUN_START_WAIT_S={settings.run_start_wait_s:g})") from None
        return Outcome("waiting for run_started",
                       rearm_at=_retry_later(sessions, run_id, held, settings, waiting=True))
    except LeaseLost as exc:  # another worker owns the run now; our work was rolled back
        return Outcome(f"rolled back: {exc}")
    except PermanentError:
        _give_up(sessions, run_id, held)
        raise
    except Exception as exc:  # transient, or a bug: back off durably; the sweeper retries
        due_at = _retry_later(sessions, run_id, held, settings, quiet=True)
        return Outcome(f"retrying after {type(exc).__name__}: {exc}", rearm_at=due_at)
    label = "generated" if result.regenerated else "unchanged"
    return Outcome(label, rearm_at=pending.get("due_at"), generation=result)


def _complete(session: Session, run_id: str, held: debounce.Claim, pending: dict[str, Any]
              ) -> None:
    if debounce.complete(session, run_id, held, utcnow()):
        pending["due_at"] = utcnow()


def _give_up(sessions: sessionmaker[Session], run_id: str, held: debounce.Claim) -> None:
    with sessions.begin() as session:
        debounce.give_up(session, run_id, held, utcnow())


def _retry_later(sessions: sessionmaker[Session], run_id: str, held: debounce.Claim,
                 settings: Settings, quiet: bool = False, waiting: bool = False
                 ) -> datetime | None:
    """Give the lease back, due after a backoff. Best effort when the database is the problem:
    the lease then simply expires and the sweeper retries."""
    try:
        with sessions.begin() as session:
            return debounce.retry_later(session, run_id, held, utcnow(),
                                        max_s=settings.retry_backoff_max_s,
                                        count_attempt=not waiting)
    except Exception:
        if not quiet:
            raise
        return None


def due_for_sweep(sessions: sessionmaker[Session], settings: Settings) -> list[str]:
    """Due, unleased runs; a grace of one quiet period lets the regular wake-ups go first."""
    grace = timedelta(seconds=min(settings.quiet_s, settings.sweep_interval_s))
    with sessions() as session:
        return debounce.due_runs(session, utcnow() - grace)
