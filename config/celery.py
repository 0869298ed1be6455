"""Celery options from Settings (docs/ARCHITECTURE.md explains each choice)."""

from __future__ import annotations

from typing import Any

from config import redis_transport
from config.names import GENERATE_TASK, SWEEP_TASK, TASK_NAMES
from config.settings import Settings

EVENTS_QUEUE = "scriptcache.events"
GENERATE_QUEUE = "scriptcache.generate"


def celery_config(settings: Settings) -> dict[str, Any]:
    redis_transport.install()  # a reset pub/sub connection must not freeze the worker
    return {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            # Timing ladder: heartbeat < lease_s < visibility_timeout > task_time_limit
            # (settings.py).
            "visibility_timeout": settings.visibility_timeout_s,
            # Messages lost between queue and consumer come back once this sweep finds them
            # past the visibility timeout (config/redis_transport.py): sweep often enough.
            "unacked_restore_interval": max(1.0, min(10.0, settings.visibility_timeout_s / 4)),
            "unacked_restore_throttle": 1,
            "unacked_restore_limit": 100,  # per sweep: a long backlog is not requeued at once
            "socket_timeout": 10,
            "socket_connect_timeout": 5,
            "socket_keepalive": True,
            "health_check_interval": 25,
            "retry_on_timeout": True,
        },
        "broker_pool_limit": 10,
        "task_ignore_result": True,
        "result_backend": None,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_acks_on_failure_or_timeout": True,
        "task_retry_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_soft_time_limit": settings.task_soft_time_limit_s,
        "task_time_limit": settings.task_time_limit_s,
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        # Off (docs/ARCHITECTURE.md): with Celery 5.7 and kombu 5.7, cancelling the running
        # tasks on a lost broker connection can crash the worker as it reconnects ("Unrecoverable
        # error: ValueError('file descriptor is None')", celery#9250: kombu now raises ValueError
        # where asynpool catches AttributeError). Left running, a task that cannot ack is
        # redelivered after the visibility timeout, and every task here is idempotent.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_soft_shutdown_timeout": 30.0,
        "worker_enable_soft_shutdown_on_idle": True,
        "worker_hijack_root_logger": False,
        "task_default_queue": EVENTS_QUEUE,
        "task_routes": {
            **{name: {"queue": EVENTS_QUEUE} for name in TASK_NAMES.values()},
            GENERATE_TASK: {"queue": GENERATE_QUEUE},
            SWEEP_TASK: {"queue": GENERATE_QUEUE},
        },
        "beat_schedule": {
            "sweep-due-runs": {
                "task": SWEEP_TASK,
                "schedule": settings.sweep_interval_s,
                "options": {"expires": settings.sweep_interval_s * 2},
            },
        },
        "beat_max_loop_interval": min(5.0, settings.sweep_interval_s),
    }
