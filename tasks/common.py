"""What the task entry points share: retry options, the outcome log line, wake-ups."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from tasks.app import app, log, services, settings
from worker.adapters.publisher import publish_wake_up
from worker.app.retry import TRANSIENT_ERRORS
from worker.domain.errors import ScriptcacheError

# Database and broker blips retry with backoff and jitter; anything else fails at once.
RETRY_OPTIONS: dict[str, Any] = {
    "bind": True,
    "autoretry_for": TRANSIENT_ERRORS,
    "retry_backoff": True,
    "retry_backoff_max": int(settings.retry_backoff_max_s),
    "retry_jitter": True,
    "max_retries": settings.max_retries,
}
# ETA messages sit unacked in worker memory: keep countdowns short; the sweeper takes the rest.
MAX_COUNTDOWN_S = 10.0


@contextmanager
def outcome_line(task: str, **context: Any) -> Iterator[dict[str, Any]]:
    """One structured log line per task outcome, with its duration. Its level is the line's
    `level` (default info); an error that is neither transient nor permanent (a programming
    error) is logged at error level with its traceback."""
    line: dict[str, Any] = dict(context)
    started = time.monotonic()
    unexpected: BaseException | None = None
    try:
        yield line
    except Exception as exc:
        line["result"] = f"error: {type(exc).__name__}"
        if isinstance(exc, (ScriptcacheError, *TRANSIENT_ERRORS)):
            line["level"] = "warning"
        else:
            line["level"], unexpected = "error", exc
        raise
    finally:
        line.setdefault("result", "ok")
        level = line.pop("level", "info")
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        if unexpected is not None:
            line["exc_info"] = unexpected
        getattr(log, level)("task", task=task, duration_ms=duration_ms, **line)


def wake_up(workflow_run_id: str, due_at: datetime) -> None:
    """Ask for a generation attempt at due_at. Losing it only delays work: the sweeper
    dispatches every due record. A run due later than MAX_COUNTDOWN_S (a slow agent's quiet
    period, a checkpoint) is left to the sweeper rather than hopping every 10 s until then."""
    countdown_s = max(0.0, (due_at - services().clock()).total_seconds())
    if countdown_s > MAX_COUNTDOWN_S:
        log.debug(
            "wake_up_left_to_sweeper",
            workflow_run_id=workflow_run_id,
            due_in_s=round(countdown_s, 1),
        )
        return
    try:
        publish_wake_up(app, workflow_run_id, countdown_s)
    except Exception as exc:
        log.warning("wake_up_failed", workflow_run_id=workflow_run_id, error=repr(exc))
