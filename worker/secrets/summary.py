"""What Celery may show of a message (argsrepr, Flower, its logs): the event's type and
identifiers, never its content. Pure and light: the publisher imports it."""

from __future__ import annotations

from typing import Any


def summary(raw: Any) -> Any:
    """What Celery may show of a message (argsrepr, Flower, its logs): the event's type and
    identifiers, never its content."""
    if isinstance(raw, list | tuple):
        return [summary(item) for item in raw]
    if not isinstance(raw, dict):
        return type(raw).__name__
    return {k: raw[k][:256] for k in SUMMARY_FIELDS if isinstance(raw.get(k), str)}


SUMMARY_FIELDS = ("type", "event_id", "workflow_run_id", "workflow_run_block_id")


def summary_repr(args: Any) -> str:
    return repr(summary(list(args) if isinstance(args, list | tuple) else args))
