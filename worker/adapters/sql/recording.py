"""Upsert the recording idempotently; load a run with a constant number of queries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, case, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from worker.adapters.sql import models as m
from worker.domain.definition import Definition
from worker.domain.errors import RunNotStarted
from worker.domain.events import BlockCompleted, Event, RunStarted
from worker.domain.run import (
    ActionRecord,
    BlockRun,
    ElementRecord,
    PageRecord,
    RunRecord,
    TaskRecord,
)
from worker.secrets.redaction import redact_event

PENDING, RUNNING = "pending", "running"  # known from blocks only / run_started seen
# The run's row while only its blocks are known (inserted if missing, never updated).
RUN_PENDING = {"status": PENDING, "code_gen": False}
# Recording tables whose rows a later delivery overwrites: table -> conflict key. Every other
# column is updated (`updated_columns`). The generic statements below and the one-statement
# intake (worker/adapters/sql/block_intake.py) are both built from this.
UPSERT_KEYS: dict[type[m.Base], str] = {
    m.WorkflowRunBlock: "workflow_run_block_id",
    m.Task: "task_id",
    m.Action: "action_id",
}


def columns(model: type[m.Base]) -> list[str]:
    return [c.name for c in model.__table__.columns]


def updated_columns(model: type[m.Base]) -> list[str]:
    """The columns an upsert of `model` overwrites: all but its conflict key."""
    return [c for c in columns(model) if c != UPSERT_KEYS[model]]


def record_event(session: Session, event: Event) -> str:
    """Record one event; the same event twice, or events out of order, give the same rows."""
    event = stored_form(event)
    conn = session.connection()
    sql = _statements(conn.dialect.name)
    if isinstance(event, RunStarted):
        _record_run_started(conn, sql, event)
    elif isinstance(event, BlockCompleted):
        _record_block(conn, sql, event)
    else:
        conn.execute(
            sql.run_finished,
            {
                "workflow_run_id": event.workflow_run_id,
                "status": event.status,
                "finished_at": event.occurred_at,
            },
        )
    return event.workflow_run_id


def stored_form(event: Event) -> Any:
    """The event as it is recorded: credentials redacted, its time in UTC (SQLite drops
    offsets, and blocks are ordered by occurred_at)."""
    return redact_event(event).model_copy(update={"occurred_at": event.occurred_at.astimezone(UTC)})


def first_delivery(session: Session, event_id: str, workflow_run_id: str, now: datetime) -> bool:
    """Remember an event id; False when it was taken in before (a redelivery)."""
    inserted = (
        session.connection()
        .execute(
            _statements(session.get_bind().dialect.name).received,
            {"event_id": event_id, "workflow_run_id": workflow_run_id, "received_at": now},
        )
        .scalar()
    )
    return inserted is not None


# --- statements --------------------------------------------------------------------------------
# Intake runs once per event, so its statements are built once per dialect, with bound
# parameters, and executed on the session's connection (Core): building a statement and the
# ORM's bulk machinery cost more than the database does here (bench/bench_intake.py).


@dataclass(frozen=True)
class _Statements:
    received: Any  # INSERT received_events ... ON CONFLICT DO NOTHING RETURNING event_id
    workflow: Any  # INSERT workflows ... ON CONFLICT DO NOTHING
    run_started: Any  # upsert of the run; a status already final stays final
    run_finished: Any  # upsert of the run's final status
    run_pending: Any  # the run's row when only its blocks are known yet
    block: Any
    task: Any
    actions: Any


@cache
def _statements(dialect: str) -> _Statements:
    def insert(model: type[m.Base]) -> Any:
        return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)

    runs = m.WorkflowRun.__table__.c
    started = insert(m.WorkflowRun)
    started_set = {
        c: started.excluded[c]
        for c in (
            "workflow_permanent_id",
            "workflow_version",
            "parameters",
            "run_with",
            "code_gen",
            "started_at",
            "script_id",
            "script_version",
        )
    }
    started_set["status"] = case((runs.status.in_([PENDING, RUNNING]), RUNNING), else_=runs.status)
    finished = insert(m.WorkflowRun).values(code_gen=False)
    return _Statements(
        received=insert(m.ReceivedEvent)
        .on_conflict_do_nothing()
        .returning(m.ReceivedEvent.event_id),
        workflow=insert(m.Workflow).on_conflict_do_nothing(),
        run_started=started.values(status=RUNNING).on_conflict_do_update(
            index_elements=["workflow_run_id"], set_=started_set
        ),
        run_finished=finished.on_conflict_do_update(
            index_elements=["workflow_run_id"],
            set_={c: finished.excluded[c] for c in ("status", "finished_at")},
        ),
        run_pending=insert(m.WorkflowRun).values(**RUN_PENDING).on_conflict_do_nothing(),
        block=_upsert(insert, m.WorkflowRunBlock),
        task=_upsert(insert, m.Task),
        actions=_upsert(insert, m.Action),
    )


def _upsert(insert: Any, model: type[m.Base]) -> Any:
    """INSERT ... ON CONFLICT (key) DO UPDATE of every other column."""
    statement = insert(model)
    return statement.on_conflict_do_update(
        index_elements=[UPSERT_KEYS[model]],
        set_={c: statement.excluded[c] for c in updated_columns(model)},
    )


def _record_run_started(conn: Connection, sql: _Statements, event: RunStarted) -> None:
    conn.execute(
        sql.workflow,
        {
            "workflow_permanent_id": event.workflow_permanent_id,
            "version": event.workflow_version,
            "definition": event.definition.model_dump(mode="json", exclude_unset=True),
            "cache_key": event.definition.cache_key,
        },
    )
    conn.execute(
        sql.run_started,
        {
            "workflow_run_id": event.workflow_run_id,
            "workflow_permanent_id": event.workflow_permanent_id,
            "workflow_version": event.workflow_version,
            "parameters": dict(event.parameters),
            "run_with": event.run_with,
            "code_gen": event.code_gen,
            "started_at": event.occurred_at,
            "script_id": event.script.script_id if event.script else None,
            "script_version": event.script.version if event.script else None,
        },
    )


def _record_block(conn: Connection, sql: _Statements, event: BlockCompleted) -> None:
    block, task, actions = block_rows(event)
    conn.execute(sql.run_pending, {"workflow_run_id": event.workflow_run_id})
    conn.execute(sql.block, block)
    if task is not None:
        conn.execute(sql.task, task)
    if actions:
        conn.execute(sql.actions, actions)


Row = dict[str, Any]


def block_rows(event: BlockCompleted) -> tuple[Row, Row | None, list[Row]]:
    """The rows of a redacted block event: its block, its task (if any) and its actions."""
    run_id, block_id, task = event.workflow_run_id, event.workflow_run_block_id, event.task
    block = {
        "workflow_run_block_id": block_id,
        "workflow_run_id": run_id,
        "parent_workflow_run_block_id": event.parent_workflow_run_block_id,
        "label": event.label,
        "block_type": event.block_type,
        "status": event.status,
        "executed_with": event.executed_with,
        "loop_index": event.loop_index,
        "loop_value": event.loop_value,
        "task_id": task.task_id if task else None,
        "occurred_at": event.occurred_at,
        "fallback": None if event.fallback == "none" else event.fallback,
        "output": event.output,
        "page": None if event.page is None else event.page.model_dump(mode="json"),
    }
    task_row = (
        None
        if task is None
        else {
            "task_id": task.task_id,
            "workflow_run_id": run_id,
            "workflow_run_block_id": block_id,
            "url": task.url,
            "navigation_goal": task.navigation_goal,
            "data_extraction_goal": task.data_extraction_goal,
            "extracted_information_schema": task.extracted_information_schema,
        }
    )
    actions = [
        {
            "action_id": a.action_id,
            "task_id": task.task_id if task else None,
            "workflow_run_id": run_id,
            "workflow_run_block_id": block_id,
            "ordinal": i,
            "action_type": a.action_type,
            "xpath": a.xpath,
            "intention": a.intention,
            "reasoning": a.reasoning,
            "text": a.text,
            "option": a.option,
            "parameter_key": a.parameter_key,
            "status": a.status,
            "source": a.source,
            "element": None
            if a.element is None
            else a.element.model_dump(mode="json", exclude_none=True) | {"text": a.element.text},
        }
        for i, a in enumerate(event.actions)
    ]
    return block, task_row, actions


def load_run(session: Session, workflow_run_id: str) -> RunRecord | None:
    """The run with its blocks, tasks and actions, in five queries whatever its size.

    Returns None for an unknown run; raises RunNotStarted when only blocks are known.
    """
    run = session.get(m.WorkflowRun, workflow_run_id)
    if run is None:
        return None
    if run.workflow_permanent_id is None or run.workflow_version is None:
        raise RunNotStarted(f"run {workflow_run_id}: run_started has not been recorded yet")
    workflow = session.get(m.Workflow, (run.workflow_permanent_id, run.workflow_version))
    if workflow is None:  # written in the same transaction as the run; cannot happen
        raise RunNotStarted(f"run {workflow_run_id}: its workflow version is not recorded")
    blocks = session.scalars(
        select(m.WorkflowRunBlock)
        .where(m.WorkflowRunBlock.workflow_run_id == workflow_run_id)
        .order_by(m.WorkflowRunBlock.occurred_at, m.WorkflowRunBlock.workflow_run_block_id)
    ).all()
    tasks = {
        t.task_id: t
        for t in session.scalars(select(m.Task).where(m.Task.workflow_run_id == workflow_run_id))
    }
    actions: dict[str, list[ActionRecord]] = defaultdict(list)
    for a in session.scalars(
        select(m.Action)
        .where(m.Action.workflow_run_id == workflow_run_id)
        .order_by(m.Action.workflow_run_block_id, m.Action.ordinal)
    ):
        actions[a.workflow_run_block_id].append(
            ActionRecord(
                action_id=a.action_id,
                action_type=a.action_type,
                xpath=a.xpath,
                intention=a.intention,
                reasoning=a.reasoning,
                text=a.text,
                option=a.option,
                parameter_key=a.parameter_key,
                status=a.status,
                source=a.source,
                element=ElementRecord.of(a.element),
            )
        )
    return RunRecord(
        workflow_run_id=run.workflow_run_id,
        workflow_permanent_id=run.workflow_permanent_id,
        workflow_version=run.workflow_version,
        definition=Definition.model_validate(workflow.definition),
        parameters=dict(run.parameters or {}),
        run_with=run.run_with or "agent",
        code_gen=bool(run.code_gen),
        status=run.status,
        script=None
        if run.script_id is None or run.script_version is None
        else (run.script_id, run.script_version),
        blocks=_tree(blocks, tasks, actions),
    )


def _tree(
    rows: Any, tasks: dict[str, m.Task], actions: dict[str, list[ActionRecord]]
) -> tuple[BlockRun, ...]:
    """Assemble blocks into a tree by parent id; a child whose parent is unknown is dropped,
    so a cycle of parent ids cannot loop."""
    children: dict[str | None, list[m.WorkflowRunBlock]] = defaultdict(list)
    for row in rows:
        children[row.parent_workflow_run_block_id].append(row)

    def build(row: m.WorkflowRunBlock, depth: int) -> BlockRun:
        task = tasks.get(row.task_id) if row.task_id else None
        kids = children.get(row.workflow_run_block_id, []) if depth < 64 else []
        kids = sorted(kids, key=lambda k: -1 if k.loop_index is None else k.loop_index)
        return BlockRun(
            workflow_run_block_id=row.workflow_run_block_id,
            label=row.label,
            block_type=row.block_type,
            status=row.status,
            executed_with=row.executed_with,
            parent_workflow_run_block_id=row.parent_workflow_run_block_id,
            loop_index=row.loop_index,
            loop_value=row.loop_value,
            task=None
            if task is None
            else TaskRecord(
                task_id=task.task_id,
                url=task.url,
                navigation_goal=task.navigation_goal,
                data_extraction_goal=task.data_extraction_goal,
                extracted_information_schema=task.extracted_information_schema,
            ),
            actions=tuple(actions.get(row.workflow_run_block_id, ())),
            children=tuple(build(k, depth + 1) for k in kids),
            fallback=row.fallback or "none",
            output=row.output,
            page=PageRecord.of(row.page),
        )

    return tuple(build(row, 0) for row in children.get(None, []))
