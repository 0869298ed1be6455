"""The sweeper (Celery beat): dispatch every due, unleased run, so a lost wake-up, a killed
worker or an emptied Redis delays work and never loses it."""

from __future__ import annotations

from tasks.app import app, services, settings
from tasks.common import outcome_line, wake_up
from worker.clock import utcnow
from worker.pipeline import due_for_sweep


@app.task(name="scriptcache.sweep", ignore_result=True)
def sweep() -> int:
    with outcome_line("scriptcache.sweep") as line:
        due = due_for_sweep(services().sessions, settings)
        for run_id in due:
            wake_up(run_id, utcnow())
        line["result"] = f"dispatched {len(due)}"
    return len(due)
