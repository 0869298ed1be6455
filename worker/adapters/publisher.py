"""Send events to scriptcache as Celery messages: what a producer does.

The raw message is a Celery protocol-2 task message with the JSON serializer: task name
`scriptcache.<type>`, queue `scriptcache.events`, `args = [event]`, no kwargs
(docs/PRODUCERS.md shows the bytes for producers in other languages).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from celery import Celery

from config import redis_transport
from config.celery import EVENTS_QUEUE, GENERATE_QUEUE
from config.names import GENERATE_TASK, TASK_NAMES
from worker.secrets.summary import summary_repr


def producer_app(broker_url: str) -> Celery:
    """A minimal Celery app for sending only (no task modules, no database). Its messages
    are registered as unacknowledged as they are queued (config/redis_transport.py)."""
    redis_transport.install()
    app = Celery("scriptcache-producer", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        broker_connection_retry_on_startup=True,
        broker_transport_options={
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
            "socket_keepalive": True,
            "health_check_interval": 25,
        },
    )
    return app


def task_name_for(event: Any) -> str:
    kind = event.get("type") if isinstance(event, dict) else None
    if kind not in TASK_NAMES:
        raise ValueError(f"event: 'type' must be one of {', '.join(TASK_NAMES)}, got {kind!r}")
    return TASK_NAMES[kind]


def publish_events(app: Celery, events: Iterable[dict[str, Any]]) -> int:
    """Publish events in order over one connection; returns how many were sent."""
    sent = 0
    with app.producer_or_acquire() as producer:
        for event in events:
            # argsrepr is what Flower and Celery's logs show: the event's identifiers only.
            app.send_task(
                task_name_for(event),
                args=[event],
                queue=EVENTS_QUEUE,
                producer=producer,
                retry=True,
                argsrepr=summary_repr([event]),
                kwargsrepr="{}",
            )
            sent += 1
    return sent


def publish_wake_up(app: Celery, workflow_run_id: str, countdown_s: float | None = None) -> None:
    """Ask for a generation attempt of the run (the one definition of the wake-up message:
    intake, the generate task's re-arm, the sweeper and `dlq replay` all send it here)."""
    app.send_task(
        GENERATE_TASK,
        args=[{"workflow_run_id": workflow_run_id}],
        queue=GENERATE_QUEUE,
        countdown=countdown_s or None,
        retry=True,
    )
