"""The run_debounce repository: bump, lease, heartbeat, compare-and-clear.

A record is *pending* while `due_at` is set. Intake bumps it (one transaction with the
recording) by the window rule of worker/domain/window.py; a generation claims it with a lease token,
renews the lease while it works, and clears it with a compare-and-clear fenced by that token,
so an event that arrived meanwhile keeps it due (in a new window that starts at that event):
the trailing event always causes exactly one more generation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session

from worker.adapters.sql import models as m
from worker.adapters.sql.engine import insert_for
from worker.domain import window
from worker.domain.errors import LeaseLost


@dataclass(frozen=True)
class Bumped:
    due_at: datetime
    started_pending: bool  # nothing was pending and no generation holds the run: wake it up


@dataclass(frozen=True)
class Claim:
    token: str
    seq: int
    attempts: int
    first_pending_at: datetime


@dataclass(frozen=True)
class NotDue:
    due_at: datetime


@dataclass(frozen=True)
class Idle:
    """Nothing pending, or another live holder has the lease."""

    reason: str


def _locked(session: Session, run_id: str) -> m.RunDebounce | None:
    return session.scalars(
        select(m.RunDebounce)
        .where(m.RunDebounce.workflow_run_id == run_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def wakes_up(
    seq: int,
    first_pending_seq: int | None,
    lease_until: datetime | None,
    now: datetime,
    immediate: bool,
) -> bool:
    """After a bump: does the run need a wake-up? Not while a live generation holds it (its
    compare-and-clear re-arms), nor for a later event of a window already waiting."""
    if lease_until is not None and _aware(lease_until, now) > now:
        return False
    return immediate or seq == first_pending_seq


def bump(
    session: Session, run_id: str, now: datetime, timing: window.Timing, *, immediate: bool = False
) -> Bumped:
    """Record that an event of this run arrived (the generic path: lock, compute, write)."""
    session.execute(
        insert_for(session, m.RunDebounce)
        .values(
            workflow_run_id=run_id,
            seq=0,
            processed_seq=0,
            attempts=0,
            generations=0,
        )
        .on_conflict_do_nothing()
    )
    row = _locked(session, run_id)
    assert row is not None
    current = SimpleNamespace(
        seq=row.seq,
        last_event_at=_maybe_aware(row.last_event_at, now),
        gap_s=row.gap_s,
        first_pending_at=_maybe_aware(row.first_pending_at, now),
        first_pending_seq=row.first_pending_seq,
        due_at=row.due_at,
        leased_seq=row.leased_seq,
        lease_until=_maybe_aware(row.lease_until, now),
    )
    for column, value in window.after_event(current, now, timing, immediate=immediate).items():
        setattr(row, column, value)
    session.flush()
    return Bumped(
        due_at=_aware(row.due_at, now),
        started_pending=wakes_up(row.seq, row.first_pending_seq, row.lease_until, now, immediate),
    )


def claim(session: Session, run_id: str, now: datetime, *, lease_s: float) -> Claim | NotDue | Idle:
    """Take the lease on a due record."""
    row = _locked(session, run_id)
    if row is None or row.due_at is None:
        return Idle("nothing pending")
    if row.lease_token is not None and _aware(row.lease_until, now) > now:
        return Idle("leased by a live holder")
    due_at = _aware(row.due_at, now)
    if due_at > now:
        return NotDue(due_at)
    row.lease_token = uuid.uuid4().hex
    row.lease_until = now + timedelta(seconds=lease_s)
    row.leased_seq = row.seq
    row.attempts += 1
    session.flush()
    return Claim(
        token=row.lease_token,
        seq=row.seq,
        attempts=row.attempts,
        first_pending_at=_aware(row.first_pending_at or now, now),
    )


def complete(session: Session, run_id: str, held: Claim, now: datetime) -> datetime | None:
    """Compare-and-clear inside the generation's transaction. Raises LeaseLost (the caller's
    transaction rolls back) when the lease was taken over or expired. Returns when the record
    is due again if events arrived during the generation (their window started at the first
    of them), else None."""
    row = _fenced(session, run_id, held, now)
    row.generations += 1
    row.processed_seq = held.seq
    row.lease_token = row.lease_until = row.leased_seq = None
    row.attempts = 0
    if row.seq == held.seq:
        row.due_at = row.first_pending_at = row.first_pending_seq = None
        return None
    return _aware(row.due_at, now)


def renew(session: Session, run_id: str, held: Claim, now: datetime, *, lease_s: float) -> bool:
    """The heartbeat: extend a live lease. False when it was taken over or had expired (the
    generation must then stop: its compare-and-clear would fail anyway)."""
    r = m.RunDebounce
    renewed: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(r)
        .where(r.workflow_run_id == run_id, r.lease_token == held.token, r.lease_until >= now)
        .values(lease_until=now + timedelta(seconds=lease_s))
        .execution_options(synchronize_session=False)
    )
    return bool(renewed.rowcount)


def retry_later(
    session: Session,
    run_id: str,
    held: Claim,
    now: datetime,
    *,
    delay_s: float,
    count_attempt: bool = True,
) -> datetime:
    """Give the lease back after a transient failure; due again after `delay_s`. Waiting for
    a late run_started is not a failed attempt (`count_attempt=False`): it has its own limit,
    SCRIPTCACHE_RUN_START_WAIT_S."""
    row = _fenced(session, run_id, held, now)
    row.lease_token = row.lease_until = row.leased_seq = None
    if not count_attempt:
        row.attempts = max(0, held.attempts - 1)
    row.due_at = now + timedelta(seconds=delay_s)
    return row.due_at


def give_up(session: Session, run_id: str, held: Claim, now: datetime) -> None:
    """Clear the record after a permanent failure (the request goes to the dead-letter queue)."""
    row = _fenced(session, run_id, held, now)
    row.lease_token = row.lease_until = row.leased_seq = row.due_at = None
    row.first_pending_at = row.first_pending_seq = None
    row.processed_seq = held.seq
    row.attempts = 0


def mark_due(session: Session, run_id: str, now: datetime) -> None:
    """Make a run due at once (a dead-letter replay), whatever its state."""
    session.execute(
        insert_for(session, m.RunDebounce)
        .values(
            workflow_run_id=run_id,
            seq=0,
            processed_seq=0,
            attempts=0,
            generations=0,
        )
        .on_conflict_do_nothing()
    )
    row = _locked(session, run_id)
    assert row is not None
    row.seq += 1
    row.due_at = now
    row.first_pending_at = row.first_pending_at or now
    row.first_pending_seq = row.first_pending_seq or row.seq
    row.lease_token = row.lease_until = row.leased_seq = None
    row.attempts = 0


def due_runs(session: Session, now: datetime, *, limit: int = 500) -> list[str]:
    """Runs due now and not leased by a live holder (what the sweeper dispatches)."""
    r = m.RunDebounce
    return list(
        session.scalars(
            select(r.workflow_run_id)
            .where(r.due_at <= now, (r.lease_token.is_(None)) | (r.lease_until < now))
            .order_by(r.due_at)
            .limit(limit)
        )
    )


def _fenced(session: Session, run_id: str, held: Claim, now: datetime) -> m.RunDebounce:
    row = _locked(session, run_id)
    if row is None or row.lease_token != held.token:
        raise LeaseLost(f"run {run_id}: the lease was taken over by another worker")
    if _aware(row.lease_until, now) < now:
        raise LeaseLost(f"run {run_id}: the lease expired before the commit")
    return row


def _maybe_aware(value: datetime | None, like: datetime) -> datetime | None:
    return None if value is None else _aware(value, like)


def _aware(value: datetime | None, like: datetime) -> datetime:
    """SQLite returns naive datetimes; they were stored in UTC."""
    assert value is not None
    return value.replace(tzinfo=like.tzinfo) if value.tzinfo is None else value
