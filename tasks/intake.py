"""Intake tasks: validate, record, bump the debounce record, commit, wake up."""

from __future__ import annotations

from typing import Any

from celery import Task

from config.names import TASK_NAMES
from tasks.app import app, services, settings
from tasks.common import RETRY_OPTIONS, outcome_line, wake_up
from worker.app.intake import take_in


def _intake(task: Task, raw: Any, event_type: str) -> None:
    run_id = raw.get("workflow_run_id") if isinstance(raw, dict) else None
    with outcome_line(task.name, workflow_run_id=run_id, attempt=task.request.retries + 1) as line:
        done = take_in(services().sessions, raw, event_type, settings, services().clock)
        line["result"] = "duplicate: ignored" if done.duplicate else "recorded"
    if done.wake_up:
        wake_up(done.workflow_run_id, done.due_at)


@app.task(name=TASK_NAMES["run_started"], **RETRY_OPTIONS)
def run_started(self: Task, event: Any) -> None:
    _intake(self, event, "run_started")


@app.task(name=TASK_NAMES["block_completed"], **RETRY_OPTIONS)
def block_completed(self: Task, event: Any) -> None:
    _intake(self, event, "block_completed")


@app.task(name=TASK_NAMES["run_finished"], **RETRY_OPTIONS)
def run_finished(self: Task, event: Any) -> None:
    _intake(self, event, "run_finished")
