"""What the task entry points share: retry options, the outcome log line, wake-ups."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

from config.celery import GENERATE_QUEUE
from tasks.app import app, log, settings
from worker.clock import utcnow
from worker.errors import TransientError

# Database and broker blips retry with backoff and jitter; anything else fails at once.
TRANSIENT = (TransientError, OperationalError, InterfaceError, ConnectionError, TimeoutError)
RETRY_OPTIONS: dict[str, Any] = {
    "bind": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": True,
    "retry_backoff_max": int(settings.retry_backoff_max_s),
    "retry_jitter": True,
    "max_retries": settings.max_retries,
}
# ETA messages sit unacked in worker memory: keep countdowns short and hop again if needed.
MAX_COUNTDOWN_S = 10.0


@contextmanager
def outcome_line(task: str, **context: Any) -> Iterator[dict[str, Any]]:
    """One structured log line per task outcome, with its duration."""
    line: dict[str, Any] = dict(context)
    started = time.monotonic()
    try:
        yield line
    except Exception as exc:
        line["result"] = f"error: {type(exc).__name__}"
        raise
    finally:
        line.setdefault("result", "ok")
        log.info("task", task=task, duration_ms=round((time.monotonic() - started) * 1000, 1),
                 **line)


def wake_up(workflow_run_id: str, due_at: datetime) -> None:
    """Ask for a generation attempt at due_at. Losing it only delays work: the sweeper
    dispatches every due record."""
    countdown_s = min(MAX_COUNTDOWN_S, max(0.0, (due_at - utcnow()).total_seconds()))
    try:
        app.send_task("scriptcache.generate", args=[{"workflow_run_id": workflow_run_id}],
                      queue=GENERATE_QUEUE, countdown=countdown_s or None)
    except Exception as exc:
        log.warning("wake_up_failed", workflow_run_id=workflow_run_id, error=repr(exc))
