"""Build RunRecords from events without a database, the way worker/recording.py does."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from worker.events import (
    BlockCompleted, RunFinished, RunStarted, parse_event, parse_line, read_lines, redact_event,
)
from worker.run import ActionRecord, BlockRun, RunRecord, TaskRecord

Event = RunStarted | BlockCompleted | RunFinished


def run_from_events(events: list[Event]) -> RunRecord:
    """One run's events (any order, repeats allowed) → its RunRecord, redacted at intake."""
    events = [redact_event(e) for e in events]
    started = next(e for e in events if isinstance(e, RunStarted))
    finished = [e for e in events if isinstance(e, RunFinished)]
    latest: dict[str, BlockCompleted] = {}
    for event in events:
        if isinstance(event, BlockCompleted):
            latest[event.workflow_run_block_id] = event  # an upsert: the last one wins
    rows = sorted(latest.values(), key=lambda e: (e.occurred_at, e.workflow_run_block_id))
    return RunRecord(
        workflow_run_id=started.workflow_run_id,
        workflow_permanent_id=started.workflow_permanent_id,
        workflow_version=started.workflow_version, definition=started.definition,
        parameters=dict(started.parameters), run_with=started.run_with,
        code_gen=started.code_gen, status=finished[-1].status if finished else "running",
        blocks=_tree(rows),
    )


def _tree(rows: list[BlockCompleted]) -> tuple[BlockRun, ...]:
    children: dict[str | None, list[BlockCompleted]] = defaultdict(list)
    for row in rows:
        children[row.parent_workflow_run_block_id].append(row)

    def build(row: BlockCompleted) -> BlockRun:
        kids = sorted(children.get(row.workflow_run_block_id, []),
                      key=lambda k: -1 if k.loop_index is None else k.loop_index)
        task = row.task
        return BlockRun(
            workflow_run_block_id=row.workflow_run_block_id, label=row.label,
            block_type=row.block_type, status=row.status, executed_with=row.executed_with,
            parent_workflow_run_block_id=row.parent_workflow_run_block_id,
            loop_index=row.loop_index, loop_value=row.loop_value,
            task=None if task is None else TaskRecord(
                task_id=task.task_id, url=task.url, navigation_goal=task.navigation_goal,
                data_extraction_goal=task.data_extraction_goal,
                extracted_information_schema=task.extracted_information_schema,
            ),
            actions=tuple(ActionRecord(
                action_id=a.action_id, action_type=a.action_type, xpath=a.xpath,
                intention=a.intention, reasoning=a.reasoning, text=a.text, option=a.option,
                parameter_key=a.parameter_key, status=a.status,
            ) for a in row.actions),
            children=tuple(build(k) for k in kids),
        )

    return tuple(build(row) for row in children.get(None, []))


def runs_from_raw(raw_events: list[dict[str, Any]]) -> list[RunRecord]:
    """Raw event objects (possibly of several runs) → one RunRecord per run, in order."""
    by_run: dict[str, list[Event]] = defaultdict(list)
    for raw in raw_events:
        event = parse_event(raw)
        by_run[event.workflow_run_id].append(event)
    return [run_from_events(events) for events in by_run.values()]


def runs_from_jsonl(path: Path) -> list[RunRecord]:
    by_run: dict[str, list[Event]] = defaultdict(list)
    for line in read_lines(path.read_text(encoding="utf-8")):
        event = parse_line(line)
        by_run[event.workflow_run_id].append(event)
    return [run_from_events(events) for events in by_run.values()]
