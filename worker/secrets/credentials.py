"""A run's secrets at intake, whatever the order its events arrive in (ARCHITECTURE.md §9).

- run_started carries the values: its seals are stored in `run_secrets`, and everything the
  run recorded before (blocks, tasks, actions, dead letters of its block events) is scrubbed
  of the values in the same transaction.
- a block event that arrives later is scrubbed with the stored seals before it is recorded.

The rules of what a secret is and how it is scrubbed live in worker/secrets/seals.py.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from worker.adapters.sql import models as m
from worker.domain.events import Event, RunStarted, storable_text, text_field
from worker.secrets.redaction import payload_secrets, redact_raw
from worker.secrets.seals import Seal, SealKey, Secrets, protect_action


def protect(session: Session, event: Event, seal_key: SealKey) -> Event:
    """run_started stores its seals and scrubs what the run recorded before it; the other
    events pass as they are (a block event is scrubbed by worker/app/intake_guard.py with
    `lookup`, which takes the run's shared lock)."""
    if not isinstance(event, RunStarted):
        return event
    serialize(session, event)
    secrets = Secrets.of_parameters(event.parameters, event.definition.credential_keys(), seal_key)
    if secrets:
        save(session, event.workflow_run_id, secrets)
        scrub_recorded(session, event.workflow_run_id, secrets)
    return event


# A block event's one read: its run's seals and its run's workflow version (if run_started
# was recorded), in one round trip. On PostgreSQL the function of migration 0009 takes the
# run's shared lock first (see `lock_run`) and then reads, in the same round trip.
_LOOKUP = text(
    "SELECT r.workflow_permanent_id, r.workflow_version, s.parameter_key, s.length, s.salt, "
    "s.digest FROM (SELECT CAST(:run_id AS VARCHAR(256)) AS id) AS q "
    "LEFT JOIN workflow_runs AS r ON r.workflow_run_id = q.id "
    "LEFT JOIN run_secrets AS s ON s.workflow_run_id = q.id"
)
_LOCK_AND_LOOKUP = text("SELECT * FROM scriptcache_block_guard(CAST(:run_id AS VARCHAR))")


def lookup(
    session: Session, run_id: str, seal_key: SealKey, *, lock: bool = False
) -> tuple[Secrets, tuple[str, int] | None]:
    """The run's seals, and its (workflow_permanent_id, version) once run_started is in.
    With `lock`, a block event's shared lock on its run is taken first (see `serialize`)."""
    if lock and session.get_bind().dialect.name == "postgresql":
        rows = session.execute(_LOCK_AND_LOOKUP, {"run_id": run_id}).all()
    else:  # SQLite runs one writer at a time: nothing to lock
        rows = session.execute(_LOOKUP, {"run_id": run_id}).all()
    seals = tuple(
        Seal(k, n, salt, digest) for _, _, k, n, salt, digest in rows if digest is not None
    )
    wpid, version = (rows[0][0], rows[0][1]) if rows else (None, None)
    secrets = Secrets(seals=seals, seal_key=seal_key)
    return secrets, (None if wpid is None or version is None else (wpid, version))


def serialize(session: Session, event: RunStarted) -> None:
    """run_started and the run's block events must not pass each other unseen: without this,
    a block committed while run_started scrubs would keep its secret."""
    lock_run(session, event.workflow_run_id, exclusive=True)


def lock_run(session: Session, run_id: str, *, exclusive: bool) -> None:
    """Hold the run's advisory lock until commit (PostgreSQL; SQLite runs one writer at a
    time anyway): exclusive for run_started (`serialize`), shared for what reads the run's
    seals (block events, in the block guard of migration 0009; a dead letter, `run_secrets`),
    which so do not wait for each other."""
    if session.get_bind().dialect.name != "postgresql":
        return
    lock = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
    session.execute(select(lock(func.hashtextextended(run_id, 0))))


def save(session: Session, run_id: str, secrets: Secrets) -> None:
    """Replace the run's seals (a redelivered run_started seals the same values again)."""
    session.execute(delete(m.RunSecret).where(m.RunSecret.workflow_run_id == run_id))
    seen: set[str] = set()
    for seal in secrets.sealed():
        if seal.digest not in seen:
            seen.add(seal.digest)
            session.add(
                m.RunSecret(
                    workflow_run_id=run_id,
                    digest=seal.digest,
                    parameter_key=seal.key,
                    length=seal.length,
                    salt=seal.salt,
                )
            )
    session.flush()


def load(session: Session, run_id: str | None, seal_key: SealKey) -> Secrets:
    if not run_id:
        return Secrets(seal_key=seal_key)
    rows = session.execute(
        select(
            m.RunSecret.parameter_key, m.RunSecret.length, m.RunSecret.salt, m.RunSecret.digest
        ).where(m.RunSecret.workflow_run_id == run_id)
    ).all()
    seals = tuple(Seal(k, n, salt, digest) for k, n, salt, digest in rows)
    return Secrets(seals=seals, seal_key=seal_key)


# Columns that identify a row or hold one of a few fixed words, never scrubbed; every other
# column of a recorded row is (the same fields as worker/domain/events.py's _ROUTING).
_IDS = frozenset(
    {
        "workflow_run_block_id",
        "workflow_run_id",
        "parent_workflow_run_block_id",
        "task_id",
        "action_id",
        "ordinal",
        "occurred_at",
        "loop_index",
        "block_type",
        "status",
        "executed_with",
        "fallback",
        "action_type",
        "source",
        "label",  # identifiers are never rewritten (ARCHITECTURE.md §9)
        "parameter_key",
    }
)


def _free(model: type[m.Base]) -> tuple[str, ...]:
    return tuple(c.key for c in model.__table__.columns if c.key not in _IDS)


_BLOCK_TEXT = _free(m.WorkflowRunBlock)
_TASK_TEXT = _free(m.Task)
_ACTION_TEXT = _free(m.Action)


def scrub_recorded(session: Session, run_id: str, secrets: Secrets) -> None:
    """Remove the secrets from every row the run recorded before run_started arrived."""
    for block in session.scalars(
        select(m.WorkflowRunBlock).where(m.WorkflowRunBlock.workflow_run_id == run_id)
    ):
        _update(block, {k: secrets.scrub_tree(getattr(block, k)) for k in _BLOCK_TEXT})
    for task in session.scalars(select(m.Task).where(m.Task.workflow_run_id == run_id)):
        _update(task, {k: secrets.scrub_tree(getattr(task, k)) for k in _TASK_TEXT})
    for action in session.scalars(select(m.Action).where(m.Action.workflow_run_id == run_id)):
        _update(action, protect_action({k: getattr(action, k) for k in _ACTION_TEXT}, secrets))
    for entry in session.scalars(
        select(m.DeadLetter).where(m.DeadLetter.workflow_run_id == run_id)
    ):
        _update(
            entry,
            {
                "payload": redact_raw(entry.payload, secrets),
                "error": secrets.scrub(entry.error),
                "traceback": None if entry.traceback is None else secrets.scrub(entry.traceback),
            },
        )
    session.flush()


def _update(row: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)


def run_secrets(session: Session | None, payload: Any, seal_key: SealKey) -> Secrets:
    """The secrets a payload carries, and those its run stored (when a session is given):
    what must be scrubbed from anything written about it."""
    found = payload_secrets(payload, seal_key)
    if session is not None:
        events = payload if isinstance(payload, list) else [payload]
        for event in events:
            # As the entry stores it: a run id with a NUL cannot even be looked up.
            run_id = _stored_run_id(event)
            if run_id:
                # As a block event does: a run_started committing now either stored its
                # seals before this reads them, or scrubs what this writes after.
                lock_run(session, run_id, exclusive=False)
            found = found.merge(load(session, run_id, seal_key))
    return found


def redact_text(text: str, payload: Any, seal_key: SealKey, session: Session | None = None) -> str:
    """Scrub the secret values a payload carried out of a free text (an error message)."""
    return run_secrets(session, payload, seal_key).scrub(text)


def _stored_run_id(event: Any) -> str | None:
    """An event's run id as the dead-letter table stores it."""
    run_id = text_field(event, "workflow_run_id")
    return None if run_id is None else storable_text(run_id)
