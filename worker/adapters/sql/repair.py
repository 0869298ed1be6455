"""The repair budget as the database knows it: repair revisions of a script in the last 24 h
(ARCHITECTURE.md §8), and the last repair it held back. The rule itself is pure, in
worker.domain.decision.RepairBudget."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from worker.adapters.sql import models as m
from worker.domain.decision import REPAIR_WINDOW_S, RepairBudget


def repair_budget(
    session: Session, script_id: int | None, now: datetime, per_day: int
) -> RepairBudget:
    """How many repair revisions the script got in the 24 hours before `now`."""
    if script_id is None:
        return RepairBudget(0, per_day)
    since = now - timedelta(seconds=REPAIR_WINDOW_S)
    used = session.scalar(
        select(func.count())
        .select_from(m.ScriptRevision)
        .where(
            m.ScriptRevision.script_id == script_id,
            m.ScriptRevision.repair.is_(True),
            m.ScriptRevision.created_at > since,
        )
    )
    return RepairBudget(int(used or 0), per_day)


def note_held(session: Session, script_id: int, run_id: str, reason: str, now: datetime) -> None:
    """Keep on the script the last run whose fallbacks the budget did not repair, and why,
    for `scriptcache script history` (in the caller's transaction)."""
    session.execute(
        update(m.Script)
        .where(m.Script.script_id == script_id)
        .values(repair_held_at=now, repair_held_run=run_id, repair_held_reason=reason)
    )
