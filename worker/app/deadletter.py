"""The dead-letter queue: what could not be processed, kept in the database with its reason.

Entries hold the original event or generation request (redacted), the error, the traceback,
the attempt count and the time. Replay re-publishes an entry and removes it only after the
publish succeeded; replaying twice is harmless because intake and generation are idempotent.
"""

from __future__ import annotations

import contextlib
import math
import traceback as tb
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from config.names import GENERATE_TASK, TASK_NAMES
from worker.adapters.clock import utcnow
from worker.adapters.publisher import publish_events, publish_wake_up
from worker.adapters.sql import debounce
from worker.adapters.sql import models as m
from worker.domain.errors import GaveUp
from worker.domain.events import storable_text, text_field
from worker.secrets.credentials import redact_text, run_secrets
from worker.secrets.redaction import redact_raw
from worker.secrets.seals import SealKey

REPLAYABLE = frozenset({*TASK_NAMES.values(), GENERATE_TASK})
MAX_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class Filter:
    task_name: str | None = None
    workflow_run_id: str | None = None
    error_contains: str | None = None


def add(
    session: Session,
    *,
    task_name: str,
    payload: Any,
    error: str,
    traceback: str | None,
    attempts: int,
    now: datetime,
    seal_key: SealKey,
) -> int:
    """Dead-letter one message in its sealed form (worker/domain/events.redact_raw): the secrets the
    payload carries, and those its run's run_started stored, are removed from the payload,
    the error text and the traceback."""
    secrets = run_secrets(session, payload, seal_key)
    row = m.DeadLetter(
        task_name=_storable(task_name[:128]),
        payload=_storable_payload(redact_raw(payload, secrets)),
        workflow_run_id=_storable(text_field(payload, "workflow_run_id")),
        event_id=_storable(text_field(payload, "event_id")),
        error=_storable(secrets.scrub(error)[:MAX_TEXT_CHARS]),
        traceback=_storable(
            None if traceback is None else secrets.scrub(traceback)[-MAX_TEXT_CHARS:]
        ),
        attempts=attempts,
        failed_at=now,
    )
    session.add(row)
    session.flush()
    return row.dead_letter_id


@dataclass(frozen=True)
class Failure:
    """A task that failed for good, as the task_failure signal reports it."""

    task_name: str
    task_id: str | None
    exception: BaseException | None
    payload: Any
    attempts: int
    traceback: str


def verdict(failure: Failure) -> str:
    """What to do with a failed task (pure): "dead_letter" it, or leave it "unreplayable"
    (the periodic sweep carries no work; the next sweep redoes it, and an entry could never
    be replayed) or "interrupted" (a generation killed by the hard time limit: its claim stays
    in run_debounce, the sweeper retries it after the lease and the generate task
    dead-letters it itself after SCRIPTCACHE_MAX_RETRIES attempts; an entry now would
    outlive a retry that succeeds)."""
    if failure.task_name not in REPLAYABLE:
        return "unreplayable"
    if (
        failure.task_name == GENERATE_TASK
        and type(failure.exception).__name__ == "TimeLimitExceeded"
    ):
        return "interrupted"
    return "dead_letter"


def cause_of(failure: Failure) -> tuple[str, str]:
    """The error and traceback to keep: when the retries ran out, the last real failure's
    (worker/domain/errors.GaveUp), not the give-up's own."""
    exc = failure.exception
    if isinstance(exc, GaveUp) and exc.cause:
        return f"{exc}: last error: {exc.cause}", exc.cause_traceback or failure.traceback
    error = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
    return error, failure.traceback


def record_failure(
    sessions: sessionmaker[Session],
    failure: Failure,
    now: datetime,
    log: Any,
    *,
    lease_s: float,
    seal_key: SealKey,
) -> int | None:
    """The dead-letter hook's policy: log, and dead-letter what can be replayed. Returns the
    entry's id, or None when nothing was written."""
    exc = failure.exception
    what = verdict(failure)
    if what == "unreplayable":
        log.warning(
            "task_failed",
            task=failure.task_name,
            task_id=failure.task_id,
            error=redact_text(f"{type(exc).__name__}: {exc}", failure.payload, seal_key)
            if exc
            else None,
        )
        return None
    if what == "interrupted":
        run_id = text_field(failure.payload, "workflow_run_id")
        if run_id and exc is not None:
            with contextlib.suppress(Exception), sessions.begin() as session:
                note_failure(session, run_id, exc)
        log.warning(
            "generation_interrupted",
            task=failure.task_name,
            task_id=failure.task_id,
            workflow_run_id=text_field(failure.payload, "workflow_run_id"),
            error=type(exc).__name__,
            retry=f"by the sweeper after the lease ({lease_s:g} s)",
        )
        return None
    error, trace = cause_of(failure)
    try:
        with sessions.begin() as session:
            entry_id = add(
                session,
                task_name=failure.task_name,
                payload=failure.payload,
                error=error,
                traceback=trace,
                attempts=failure.attempts,
                now=now,
                seal_key=seal_key,
            )
            reason = redact_text(error, failure.payload, seal_key, session)
    except Exception as exc2:  # the database is down too: say so loudly, keep the reason
        log.error(
            "dead_letter_failed",
            task=failure.task_name,
            task_id=failure.task_id,
            error=type(exc2).__name__,
        )
        return None
    log.warning(
        "dead_lettered",
        task=failure.task_name,
        task_id=failure.task_id,
        dead_letter_id=entry_id,
        attempts=failure.attempts,
        reason=reason,
    )
    return entry_id


def note_failure(session: Session, run_id: str, exc: BaseException) -> None:
    """Keep a generation attempt's failure on its run's debounce record: if the retries run
    out later (attempts killed by the time limit or with their worker), the dead letter says
    what actually went wrong, with that failure's traceback."""
    trace = "".join(tb.format_exception(exc))[-MAX_TEXT_CHARS:]
    session.execute(
        update(m.RunDebounce)
        .where(m.RunDebounce.workflow_run_id == run_id)
        .values(last_error=f"{type(exc).__name__}: {exc}"[:MAX_TEXT_CHARS], last_traceback=trace)
    )


def last_failure(session: Session, run_id: str) -> tuple[str | None, str | None]:
    row = session.get(m.RunDebounce, run_id)
    return (None, None) if row is None else (row.last_error, row.last_traceback)


def entries(
    session: Session, where: Filter = Filter(), *, limit: int | None = None
) -> list[m.DeadLetter]:
    stmt = select(m.DeadLetter).order_by(m.DeadLetter.dead_letter_id)
    if where.task_name:
        stmt = stmt.where(m.DeadLetter.task_name == where.task_name)
    if where.workflow_run_id:
        stmt = stmt.where(m.DeadLetter.workflow_run_id == where.workflow_run_id)
    if where.error_contains:
        stmt = stmt.where(m.DeadLetter.error.contains(where.error_contains))
    return list(session.scalars(stmt.limit(limit)))


def count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(m.DeadLetter)) or 0)


def remove(session: Session, ids: Sequence[int]) -> int:
    removed = session.scalars(
        delete(m.DeadLetter)
        .where(m.DeadLetter.dead_letter_id.in_(ids))
        .returning(m.DeadLetter.dead_letter_id)
    ).all()
    return len(removed)


Publish = Callable[[m.DeadLetter], None]


def replay(
    sessions: sessionmaker[Session], ids: Sequence[int], publish: Publish
) -> Iterator[tuple[int, str | None]]:
    """Re-publish entries one by one; yields (id, error or None). An entry is removed only
    after its publish succeeded; one that is already gone (replayed meanwhile) is skipped."""
    for entry_id in ids:
        with sessions() as session:
            entry = session.get(m.DeadLetter, entry_id)
            if entry is None:
                yield entry_id, "already replayed or purged"
                continue
            session.expunge(entry)
        if entry.task_name not in REPLAYABLE:
            yield entry_id, f"refusing to replay unknown task {entry.task_name!r}"
            continue
        try:
            publish(entry)
        except Exception as exc:  # the entry stays; the operator sees why
            yield entry_id, f"{type(exc).__name__}: {exc}"
            continue
        with sessions.begin() as session:
            remove(session, [entry_id])
        yield entry_id, None


def republisher(sessions: sessionmaker[Session], app: Any) -> Publish:
    """How an entry is replayed. An event is published again in its sealed form, which
    intake takes in exactly as the original (worker/domain/events.redact_raw). A generation request
    makes its run due at once and sends a wake-up."""

    def send(entry: m.DeadLetter) -> None:
        if entry.task_name == GENERATE_TASK:
            run_id = text_field(entry.payload, "workflow_run_id")
            if not run_id:
                raise ValueError("generation request without a workflow_run_id")
            with sessions.begin() as session:
                debounce.mark_due(session, run_id, utcnow())
            publish_wake_up(app, run_id)
        else:
            publish_events(app, [entry.payload])

    return send


def _storable(value: Any) -> Any:
    """What the database can store of a rejected payload: the very values the validator
    refuses (NUL characters, lone surrogates, NaN and infinities) are escaped, not lost."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {_storable(str(k)): _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def _storable_payload(payload: Any) -> Any:
    try:
        return _storable(payload)
    except RecursionError:
        return {"unstorable": "the payload is nested too deeply to keep"}
