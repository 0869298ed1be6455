"""The repair budget as the database knows it: repair revisions of a script in the last 24 h
(ARCHITECTURE.md §8). The rule itself is pure, in worker.decision.RepairBudget."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker import models as m
from worker.decision import REPAIR_WINDOW_S, RepairBudget


def repair_budget(session: Session, script_id: int | None, now: datetime,
                  per_day: int) -> RepairBudget:
    """How many repair revisions the script got in the 24 hours before `now`."""
    if script_id is None:
        return RepairBudget(0, per_day)
    since = now - timedelta(seconds=REPAIR_WINDOW_S)
    used = session.scalar(
        select(func.count()).select_from(m.ScriptRevision).where(
            m.ScriptRevision.script_id == script_id, m.ScriptRevision.repair.is_(True),
            m.ScriptRevision.created_at > since))
    return RepairBudget(int(used or 0), per_day)
