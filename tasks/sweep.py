"""The sweeper (Celery beat): dispatch every due, unleased run, so a lost wake-up, a killed
worker or an emptied Redis delays work and never loses it.

It runs every SCRIPTCACHE_SWEEP_INTERVAL_S and usually finds nothing: an idle sweep logs at
debug level, and neither beat (no task-sent event) nor the worker (`send_events=False`) tells
Flower about it, so the operators' task list keeps the real tasks.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import signals

from config.names import SWEEP_TASK
from tasks.app import app, services, settings
from tasks.common import outcome_line, wake_up
from worker.app.generation import due_runs


class _WithoutSweeps(logging.Filter):
    """Celery's own "received" and "succeeded" lines for the sweep (its outcome line says
    what a busy sweep did)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return SWEEP_TASK not in record.getMessage()


for _name in ("celery.app.trace", "celery.worker.strategy"):
    logging.getLogger(_name).addFilter(_WithoutSweeps())


@signals.beat_init.connect
def _no_sent_events_from_beat(**_: Any) -> None:
    app.conf.task_send_sent_event = False  # beat sends nothing but the sweep


@app.task(name=SWEEP_TASK, ignore_result=True, send_events=False)
def sweep() -> int:
    with outcome_line(SWEEP_TASK) as line:
        now = services().clock()
        due = due_runs(services().sessions, settings, services().clock)
        for run_id in due:
            wake_up(run_id, now)
        line.update(result=f"dispatched {len(due)}", level="info" if due else "debug")
    return len(due)
