"""The generate task: claim a due run, generate, compare-and-clear, re-arm if needed."""

from __future__ import annotations

from typing import Any

from celery import Task

from config.names import GENERATE_TASK
from tasks.app import app, services, settings
from tasks.common import RETRY_OPTIONS, outcome_line, wake_up
from worker.app.generation import generate_due
from worker.domain.errors import PermanentError


@app.task(name=GENERATE_TASK, **RETRY_OPTIONS)
def generate(self: Task, request: Any) -> None:
    run_id = request.get("workflow_run_id") if isinstance(request, dict) else None
    if not isinstance(run_id, str) or not run_id:
        raise PermanentError("generation request: workflow_run_id must be a non-empty string")
    with outcome_line(self.name, workflow_run_id=run_id) as line:
        outcome = generate_due(
            services().sessions, services().store, run_id, settings, services().clock
        )
        line.update(result=outcome.result, level=outcome.level)
        if outcome.generation is not None:
            line.update(
                version=outcome.generation.version,
                labels=outcome.generation.labels,
                reason=outcome.generation.reason,
            )
    if outcome.rearm_at is not None:
        wake_up(run_id, outcome.rearm_at)
