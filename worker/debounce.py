"""Debounce per workflow run: due-time arithmetic (pure) and the run_debounce repository.

A record is *pending* while `due_at` is set. Intake bumps it (one transaction with the
recording); a generation claims it with a lease token and clears it with a compare-and-clear
fenced by that token, so an event that arrived meanwhile keeps it due: the trailing event
always causes exactly one more generation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from worker import models as m
from worker.db import insert_for
from worker.errors import LeaseLost


def due_time(first_pending_at: datetime, last_event_at: datetime, *, quiet_s: float,
             max_wait_s: float) -> datetime:
    """The earlier of a quiet period after the last event and the longest wait after the first."""
    return min(last_event_at + timedelta(seconds=quiet_s),
               first_pending_at + timedelta(seconds=max_wait_s))


@dataclass(frozen=True)
class Bumped:
    due_at: datetime
    started_pending: bool  # the record was idle before this event: a wake-up is needed


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
        select(m.RunDebounce).where(m.RunDebounce.workflow_run_id == run_id)
        .with_for_update().execution_options(populate_existing=True)
    ).one_or_none()


def bump(session: Session, run_id: str, now: datetime, *, quiet_s: float, max_wait_s: float,
         immediate: bool = False) -> Bumped:
    """Record that an event of this run arrived; returns when the run is due. One statement:
    INSERT ... ON CONFLICT DO UPDATE ... RETURNING (every SET sees the row as it was)."""
    t = m.RunDebounce.__table__.c
    quiet_due = now + timedelta(seconds=quiet_s)
    deadline = now + timedelta(seconds=max_wait_s)
    idle = t.due_at.is_(None)
    insert = insert_for(session, m.RunDebounce).values(
        workflow_run_id=run_id, seq=1, first_pending_at=now, last_event_at=now,
        deadline_at=deadline, due_at=now if immediate else min(quiet_due, deadline),
        first_pending_seq=1,
        processed_seq=0, attempts=0, generations=0,
    )
    due = now if immediate else case(
        (idle, min(quiet_due, deadline)),
        (t.deadline_at < quiet_due, t.deadline_at),
        else_=quiet_due,
    )
    stmt = insert.on_conflict_do_update(index_elements=["workflow_run_id"], set_={
        "seq": t.seq + 1,
        "last_event_at": now,
        "first_pending_at": case((idle, now), else_=t.first_pending_at),
        "deadline_at": case((idle, deadline), else_=t.deadline_at),
        "first_pending_seq": case((idle, t.seq + 1), else_=t.first_pending_seq),
        "due_at": due,
    }).returning(t.due_at, t.seq, t.first_pending_seq)
    due_at, seq, first_pending_seq = session.execute(stmt).one()
    return Bumped(due_at=_aware(due_at, now), started_pending=seq == first_pending_seq or immediate)


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
    row.attempts += 1
    session.flush()
    return Claim(token=row.lease_token, seq=row.seq, attempts=row.attempts,
                 first_pending_at=_aware(row.first_pending_at or now, now))


def complete(session: Session, run_id: str, held: Claim, now: datetime) -> bool:
    """Compare-and-clear inside the generation's transaction. Raises LeaseLost (the caller's
    transaction rolls back) when the lease was taken over or expired. Returns True when events
    arrived during the generation and the record stays due."""
    row = _fenced(session, run_id, held, now)
    row.generations += 1
    row.processed_seq = held.seq
    row.lease_token = row.lease_until = None
    row.attempts = 0
    if row.seq == held.seq:
        row.due_at = row.first_pending_at = None
        return False
    return True


def retry_later(session: Session, run_id: str, held: Claim, now: datetime, *,
                delay_s: float, count_attempt: bool = True) -> datetime:
    """Give the lease back after a transient failure; due again after `delay_s`. Waiting for
    a late run_started is not a failed attempt (`count_attempt=False`): it has its own limit,
    SCRIPTCACHE_RUN_START_WAIT_S."""
    row = _fenced(session, run_id, held, now)
    row.lease_token = row.lease_until = None
    if not count_attempt:
        row.attempts = max(0, held.attempts - 1)
    row.due_at = now + timedelta(seconds=delay_s)
    return row.due_at


def give_up(session: Session, run_id: str, held: Claim, now: datetime) -> None:
    """Clear the record after a permanent failure (the request goes to the dead-letter queue)."""
    row = _fenced(session, run_id, held, now)
    row.lease_token = row.lease_until = row.due_at = row.first_pending_at = None
    row.processed_seq = held.seq
    row.attempts = 0


def mark_due(session: Session, run_id: str, now: datetime) -> None:
    """Make a run due at once (a dead-letter replay), whatever its state."""
    session.execute(insert_for(session, m.RunDebounce).values(
        workflow_run_id=run_id, seq=0, processed_seq=0, attempts=0, generations=0,
    ).on_conflict_do_nothing())
    row = _locked(session, run_id)
    assert row is not None
    row.seq += 1
    row.due_at = now
    row.first_pending_at = row.first_pending_at or now
    row.deadline_at = row.deadline_at or now
    row.lease_token = row.lease_until = None
    row.attempts = 0


def due_runs(session: Session, now: datetime, *, limit: int = 500) -> list[str]:
    """Runs due now and not leased by a live holder (what the sweeper dispatches)."""
    r = m.RunDebounce
    return list(session.scalars(
        select(r.workflow_run_id)
        .where(r.due_at <= now, (r.lease_token.is_(None)) | (r.lease_until < now))
        .order_by(r.due_at).limit(limit)
    ))


def _fenced(session: Session, run_id: str, held: Claim, now: datetime) -> m.RunDebounce:
    row = _locked(session, run_id)
    if row is None or row.lease_token != held.token:
        raise LeaseLost(f"run {run_id}: the lease was taken over by another worker")
    if _aware(row.lease_until, now) < now:
        raise LeaseLost(f"run {run_id}: the lease expired before the commit")
    return row


def _aware(value: datetime | None, like: datetime) -> datetime:
    """SQLite returns naive datetimes; they were stored in UTC."""
    assert value is not None
    return value.replace(tzinfo=like.tzinfo) if value.tzinfo is None else value
