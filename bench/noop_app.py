"""A Celery app whose event tasks do nothing: the baseline for intake throughput.

Same broker, queue names, task names and Celery options as tasks.app (config.celery), so the
only difference is the task body. Started as its own worker:

    celery -A noop_app worker -Q scriptcache.events -c 1    (with bench/ on PYTHONPATH)
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from config.celery import celery_config
from config.names import TASK_NAMES
from config.settings import Settings

app = Celery("scriptcache-noop")
app.config_from_object(celery_config(Settings.from_env()))


@app.task(name=TASK_NAMES["run_started"])
def run_started(event: Any) -> None:
    return None


@app.task(name=TASK_NAMES["block_completed"])
def block_completed(event: Any) -> None:
    return None


@app.task(name=TASK_NAMES["run_finished"])
def run_finished(event: Any) -> None:
    return None
