"""The Celery app: options from Settings, services built once per process after fork, and
the dead-letter hook for every task that finally fails."""

from __future__ import annotations

import traceback as tb
from typing import Any

import structlog
from celery import Celery, signals
from celery.exceptions import TimeLimitExceeded

from config.celery import celery_config
from config.logging import configure_logging
from config.settings import Settings
from worker import deadletter
from worker.bootstrap import Services, build
from worker.clock import utcnow

settings = Settings.from_env()
app = Celery("scriptcache", include=["tasks.intake", "tasks.generate", "tasks.sweep"])
app.config_from_object(celery_config(settings))
configure_logging(settings)
log = structlog.get_logger("scriptcache")

_services: Services | None = None


def services() -> Services:
    """The process's services; built on first use (beat, solo pool) or after fork."""
    global _services
    if _services is None:
        _services = build(settings)
    return _services


@signals.worker_process_init.connect
def _after_fork(**_: Any) -> None:
    global _services
    _services = None  # never share the parent's connections with a child
    services()


@signals.worker_process_shutdown.connect
def _before_exit(**_: Any) -> None:
    if _services is not None:
        _services.close()


@signals.task_failure.connect
def _dead_letter(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    args: Any = None,
    einfo: Any = None,
    **_: Any,
) -> None:
    """A task failed for good (permanent error, retries exhausted, worker lost too often):
    keep its message, the reason and the traceback in the dead-letter queue."""
    name = getattr(sender, "name", "unknown")
    if name not in deadletter.REPLAYABLE:
        # The periodic sweep carries no work: the next sweep redoes it. An entry for it could
        # never be replayed and would make every `dlq replay --all` fail.
        log.warning("task_failed", task=name, task_id=task_id,
                    error=f"{type(exception).__name__}: {exception}" if exception else None)
        return
    if name == deadletter.GENERATE_TASK and isinstance(exception, TimeLimitExceeded):
        # The pool child was killed mid-generation; its claim on the run stays in
        # run_debounce, so the sweeper retries the run once the lease expires, and the
        # generate task itself dead-letters it after SCRIPTCACHE_MAX_RETRIES attempts.
        # An entry now would outlive a retry that succeeds.
        run_id = deadletter.text_field(args[0] if args else None, "workflow_run_id")
        log.warning("generation_interrupted", task=name, task_id=task_id,
                    workflow_run_id=run_id, error=type(exception).__name__,
                    retry=f"by the sweeper after the lease ({settings.lease_s:g} s)")
        return
    payload = args[0] if args else None
    attempts = 1 + int(getattr(getattr(sender, "request", None), "retries", 0) or 0)
    trace = str(einfo) if einfo is not None else "".join(tb.format_exception(exception))
    error = f"{type(exception).__name__}: {exception}" if exception else "unknown error"
    try:
        with services().sessions.begin() as session:
            entry_id = deadletter.add(
                session,
                task_name=name,
                payload=payload,
                error=error,
                traceback=trace,
                attempts=attempts,
                now=utcnow(),
            )
    except Exception as exc:  # the database is down too: say so loudly, keep the reason
        log.error("dead_letter_failed", task=name, task_id=task_id, error=repr(exc))
        return
    log.warning(
        "dead_lettered",
        task=name,
        task_id=task_id,
        dead_letter_id=entry_id,
        attempts=attempts,
        reason=deadletter.redact_text(error, payload),
    )
