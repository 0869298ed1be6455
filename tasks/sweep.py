"""The sweeper (Celery beat): dispatch every due, unleased run, so a lost wake-up, a killed
worker or an emptied Redis delays work and never loses it."""

from __future__ import annotations

from tasks.app import app, services, settings
from tasks.common import outcome_line, wake_up
from worker.events import SWEEP_TASK
from worker.generation import due_runs


@app.task(name=SWEEP_TASK, ignore_result=True)
def sweep() -> int:
    with outcome_line(SWEEP_TASK) as line:
        now = services().clock()
        due = due_runs(services().sessions, settings, services().clock)
        for run_id in due:
            wake_up(run_id, now)
        line["result"] = f"dispatched {len(due)}"
    return len(due)
