"""The dead-letter queue: what could not be processed, kept in the database with its reason.

Entries hold the original event or generation request (redacted), the error, the traceback,
the attempt count and the time. Replay re-publishes an entry and removes it only after the
publish succeeded; replaying twice is harmless because intake and generation are idempotent.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from worker import models as m
from worker.events import GENERATE_TASK as GENERATE_TASK  # (re-exported for its callers)
from worker.events import REDACTED, TASK_NAMES, redact_raw

REPLAYABLE = frozenset({*TASK_NAMES.values(), GENERATE_TASK})
MAX_TEXT_CHARS = 20_000


@dataclass(frozen=True)
class Filter:
    task_name: str | None = None
    workflow_run_id: str | None = None
    error_contains: str | None = None


def add(session: Session, *, task_name: str, payload: Any, error: str, traceback: str | None,
        attempts: int, now: datetime) -> int:
    """Dead-letter one message; secrets in the payload are redacted first, and any secret value
    the payload carried is scrubbed from the error text and the traceback."""
    secrets = _secret_values(payload)
    row = m.DeadLetter(
        task_name=_storable(task_name[:128]), payload=_storable_payload(redact_raw(payload)),
        workflow_run_id=_storable(text_field(payload, "workflow_run_id")),
        event_id=_storable(text_field(payload, "event_id")),
        error=_storable(_scrub(error, secrets)[:MAX_TEXT_CHARS]),
        traceback=_storable(None if traceback is None
                            else _scrub(traceback, secrets)[-MAX_TEXT_CHARS:]),
        attempts=attempts, failed_at=now,
    )
    session.add(row)
    session.flush()
    return row.dead_letter_id


def entries(session: Session, where: Filter = Filter(), *, limit: int | None = None
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
        delete(m.DeadLetter).where(m.DeadLetter.dead_letter_id.in_(ids))
        .returning(m.DeadLetter.dead_letter_id)
    ).all()
    return len(removed)


Publish = Callable[[m.DeadLetter], None]


def replay(sessions: sessionmaker[Session], ids: Sequence[int], publish: Publish
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


def _storable(value: Any) -> Any:
    """What the database can store of a rejected payload: the very values the validator
    refuses (NUL characters, lone surrogates, NaN and infinities) are escaped, not lost."""
    if isinstance(value, str):
        return value.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode()
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


def text_field(payload: Any, name: str) -> str | None:
    """A string field of a payload that may not be an object (None otherwise), capped."""
    value = payload.get(name) if isinstance(payload, dict) else None
    return value[:256] if isinstance(value, str) else None


def _secret_values(payload: Any) -> list[str]:
    """Values in the raw payload that redaction replaces, to scrub from free text."""
    if not isinstance(payload, dict):
        return []
    redacted = redact_raw(payload)
    found: list[str] = []
    before, after = payload.get("parameters"), redacted.get("parameters")
    if isinstance(before, dict) and isinstance(after, dict):
        found += [str(v) for k, v in before.items() if after.get(k) == REDACTED]
    actions = zip(payload.get("actions") or [], redacted.get("actions") or [], strict=False)
    for raw, clean in actions:
        if isinstance(raw, dict) and isinstance(clean, dict):
            found += [str(raw[k]) for k in ("text", "option") if clean.get(k) == REDACTED]
    return [s for s in found if len(s) >= 4]


def redact_text(text: str, payload: Any) -> str:
    """Scrub the secret values a payload carried out of a free text (an error message)."""
    return _scrub(text, _secret_values(payload))


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text
