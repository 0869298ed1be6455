"""What intake checks and removes before an event is recorded, whatever order a run's events
arrive in: its run's secrets (worker/secrets/credentials.py), and block labels that are not in the
run's definition (ARCHITECTURE.md §2: such a block_completed is dead-lettered with the reason).

A top-level block (no parent) arriving after run_started is refused at once. One that arrived
before is dead-lettered when run_started arrives, in the same transaction, with the reason;
its replay meets the same check. Children of a loop or task_v2 are not checked: task_v2
children have labels the definition lacks.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from config.names import TASK_NAMES
from worker.adapters.clock import utcnow
from worker.adapters.sql import models as m
from worker.app import deadletter
from worker.domain.definition import Definition
from worker.domain.errors import PermanentError
from worker.domain.events import BlockCompleted, Event, RunStarted
from worker.secrets import credentials
from worker.secrets.redaction import redact_event
from worker.secrets.seals import SealKey, Secrets

_CACHE_SIZE = 256
# Labels of a workflow version (immutable once recorded: the first definition wins), per
# process and database.
_labels: OrderedDict[tuple[str, str, int], frozenset[str]] = OrderedDict()


def guard(session: Session, event: Event, seal_key: SealKey) -> Event:
    """The event as intake may record it; PermanentError when it must be dead-lettered."""
    if isinstance(event, BlockCompleted):
        secrets, run = credentials.lookup(session, event.workflow_run_id, seal_key, lock=True)
        block: BlockCompleted = redact_event(event, secrets) if secrets else event
        if block.parent_workflow_run_block_id is None and run is not None:
            _check_label(session, block, *run)
        return block
    event = credentials.protect(session, event, seal_key)
    if isinstance(event, RunStarted):
        _dead_letter_strays(session, event, seal_key)
        # Redacted here, where the seal key is at hand: a replayed or retried run_started
        # carries its secrets as seals, which only the key checks.
        event = redact_event(event, Secrets(seal_key=seal_key))
    return event


def not_in_definition(label: str, wpid: str, version: int) -> str:
    return f"label {label[:200]!r} is not in the definition of workflow {wpid!r} version {version}"


def _check_label(session: Session, event: BlockCompleted, wpid: str, version: int) -> None:
    """Before run_started arrives there is nothing to check against: it checks then."""
    if event.label not in _labels_of(session, wpid, version):
        raise PermanentError(
            f"block_completed {event.event_id!r}: " + not_in_definition(event.label, wpid, version)
        )


def _labels_of(session: Session, wpid: str, version: int) -> frozenset[str]:
    key = (str(session.get_bind().engine.url), wpid, version)
    if key in _labels:
        _labels.move_to_end(key)
        return _labels[key]
    workflow = session.get(m.Workflow, (wpid, version))
    labels = (
        frozenset()
        if workflow is None
        else frozenset(b.label for b in Definition.model_validate(workflow.definition).all_blocks())
    )
    _labels[key] = labels
    while len(_labels) > _CACHE_SIZE:
        _labels.popitem(last=False)
    return labels


def _dead_letter_strays(session: Session, event: RunStarted, seal_key: SealKey) -> None:
    labels = {b.label for b in event.definition.all_blocks()}
    b = m.WorkflowRunBlock
    strays = session.scalars(
        select(b).where(
            b.workflow_run_id == event.workflow_run_id,
            b.parent_workflow_run_block_id.is_(None),
            b.label.not_in(labels) if labels else b.label.is_not(None),
        )
    ).all()
    for block in strays:
        reason = not_in_definition(block.label, event.workflow_permanent_id, event.workflow_version)
        deadletter.add(
            session,
            task_name=TASK_NAMES["block_completed"],
            payload=_as_event(session, block),
            error=f"PermanentError: {reason}",
            traceback=None,
            attempts=1,
            now=utcnow(),
            seal_key=seal_key,
        )
        session.execute(
            delete(m.Action).where(m.Action.workflow_run_block_id == block.workflow_run_block_id)
        )
        session.execute(
            delete(m.Task).where(m.Task.workflow_run_block_id == block.workflow_run_block_id)
        )
        session.delete(block)
    session.flush()


def _as_event(session: Session, block: m.WorkflowRunBlock) -> dict[str, Any]:
    """A recorded block as the block_completed event that recorded it (as stored)."""
    task = session.get(m.Task, block.task_id) if block.task_id else None
    actions = session.scalars(
        select(m.Action)
        .where(m.Action.workflow_run_block_id == block.workflow_run_block_id)
        .order_by(m.Action.ordinal)
    ).all()
    occurred = block.occurred_at
    return {
        "type": "block_completed",
        "event_id": f"{block.workflow_run_block_id}:recorded",
        "occurred_at": (occurred.replace(tzinfo=occurred.tzinfo or UTC)).isoformat()
        if occurred
        else utcnow().isoformat(),
        "workflow_run_id": block.workflow_run_id,
        "workflow_run_block_id": block.workflow_run_block_id,
        "parent_workflow_run_block_id": None,
        "label": block.label,
        "block_type": block.block_type,
        "status": block.status,
        "executed_with": block.executed_with,
        "loop_index": block.loop_index,
        "loop_value": block.loop_value,
        "task": None
        if task is None
        else {
            k: getattr(task, k)
            for k in (
                "task_id",
                "url",
                "navigation_goal",
                "data_extraction_goal",
                "extracted_information_schema",
            )
        },
        "actions": [
            {
                k: getattr(a, k)
                for k in (
                    "action_id",
                    "action_type",
                    "xpath",
                    "intention",
                    "reasoning",
                    "text",
                    "option",
                    "parameter_key",
                    "status",
                    "source",
                    "element",
                )
            }
            for a in actions
        ],
    }
