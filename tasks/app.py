"""The Celery app: options from Settings, services built once per process after fork, and
the dead-letter hook for every task that finally fails."""

from __future__ import annotations

import traceback as tb
from typing import Any

import structlog
from celery import Celery, signals

from config.celery import celery_config
from config.logging import configure_logging
from config.settings import Settings
from worker.adapters.clock import utcnow
from worker.app import deadletter
from worker.app.bootstrap import Services, build
from worker.secrets.seals import SealKey

settings = Settings.from_env()
# Every task shows and re-sends only redacted arguments (tasks/redacted.py).
app = Celery(
    "scriptcache",
    include=["tasks.intake", "tasks.generate", "tasks.sweep"],
    task_cls="tasks.redacted:RedactedTask",
)
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
    """A task failed for good: worker/app/deadletter.py decides what to keep and keeps it."""
    failure = deadletter.Failure(
        task_name=getattr(sender, "name", "unknown"),
        task_id=task_id,
        exception=exception,
        payload=args[0] if args else None,
        attempts=1 + int(getattr(getattr(sender, "request", None), "retries", 0) or 0),
        traceback=str(einfo) if einfo is not None else "".join(tb.format_exception(exception)),
    )
    deadletter.record_failure(
        services().sessions,
        failure,
        utcnow(),
        log,
        lease_s=settings.lease_s,
        seal_key=SealKey(settings.seal_keys),
    )
