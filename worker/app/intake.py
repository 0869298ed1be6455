"""The intake use case: an event becomes part of its run's recording, and the run's debounce
record is bumped, in one transaction. Also the CLI's `ingest`, which records without
debouncing."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from worker.adapters.clock import Clock
from worker.adapters.sql import debounce
from worker.adapters.sql.block_intake import take_in_block
from worker.adapters.sql.recording import first_delivery, record_event
from worker.app import intake_guard, retry
from worker.domain.errors import PermanentError
from worker.domain.events import BlockCompleted, Event, RunFinished, parse_event
from worker.domain.window import Timing
from worker.secrets.seals import SealKey


@dataclass(frozen=True)
class Intake:
    workflow_run_id: str
    event_type: str
    due_at: datetime
    wake_up: bool  # send a wake-up for due_at (the record just became pending, or is due now)
    duplicate: bool = False  # this event_id was taken in before: nothing changed


def take_in(
    sessions: sessionmaker[Session], raw: Any, expected_type: str, settings: Settings, clock: Clock
) -> Intake:
    """Validate an event, record it and bump its run's debounce record in one transaction."""
    if isinstance(raw, dict) and settings.max_event_bytes:
        size = len(
            json.dumps(raw, ensure_ascii=False, separators=(",", ":")).encode(
                "utf-8", "surrogatepass"
            )
        )  # lone surrogates: parse_event says so
        if size > settings.max_event_bytes:
            raise PermanentError(
                f"event: {size} bytes, over the limit of {settings.max_event_bytes} "
                "(SCRIPTCACHE_MAX_EVENT_BYTES)"
            )
    event = parse_event(raw)
    if event.type != expected_type:
        raise PermanentError(f"event: type {event.type!r} sent to the {expected_type} task")
    now = clock()
    try:
        with sessions.begin() as session:
            bumped = record_and_bump(session, event, now, settings)
    except DBAPIError as exc:
        if retry.is_transient(exc):
            raise
        # The database refuses this event's content the same way every time: dead-letter it.
        # Only the primary message: its DETAIL may quote the row's values.
        primary = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
        raise PermanentError(
            f"event {event.event_id!r}: the database refused it: "
            f"{type(exc.orig).__name__}: {primary or 'no message'}"[:600]
        ) from None
    if bumped is None:
        return Intake(event.workflow_run_id, event.type, now, False, duplicate=True)
    return Intake(event.workflow_run_id, event.type, bumped.due_at, bumped.started_pending)


def record_and_bump(
    session: Session, event: Event, now: datetime, settings: Settings, *, one_statement: bool = True
) -> debounce.Bumped | None:
    """Record the event and bump its run's debounce record; None for a redelivery.

    A block event on PostgreSQL takes one statement (worker/adapters/sql/block_intake.py); the others, and
    every event on SQLite or with `one_statement=False`, take the generic statements. Its
    run's secrets are removed first (worker/app/intake_guard.py)."""
    event = intake_guard.guard(session, event, SealKey(settings.seal_keys))
    if (
        one_statement
        and isinstance(event, BlockCompleted)
        and session.get_bind().dialect.name == "postgresql"
    ):
        return take_in_block(session, event, now, Timing.of(settings))
    if not first_delivery(session, event.event_id, event.workflow_run_id, now):
        return None
    run_id = record_event(session, event)
    return debounce.bump(
        session, run_id, now, Timing.of(settings), immediate=isinstance(event, RunFinished)
    )


def record_only(
    sessions: sessionmaker[Session], events: Iterable[Event], seal_key: SealKey
) -> list[str]:
    """The CLI's `ingest`: record events without a broker or debouncing, one transaction
    each; returns the runs touched, in first-seen order."""
    touched: dict[str, None] = {}
    for event in events:
        with sessions.begin() as session:
            touched[record_event(session, intake_guard.guard(session, event, seal_key))] = None
    return list(touched)
