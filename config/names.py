"""Every task name of the worker, defined once and imported wherever it is needed (the tasks,
the Celery routes, the publisher, the dead-letter queue). Here in config/ so that the Celery
options import nothing from worker/ (config is the bottom of the import graph)."""

from __future__ import annotations

EVENT_TYPES = ("run_started", "block_completed", "run_finished")
# One task per event type, ...
TASK_NAMES = {t: f"scriptcache.{t}" for t in EVENT_TYPES}
GENERATE_TASK = "scriptcache.generate"  # ... the generation of one due run ...
SWEEP_TASK = "scriptcache.sweep"  # ... and the sweeper, run by beat.
