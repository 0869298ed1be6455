"""Upsert the recording idempotently; load a run with a constant number of queries."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from worker import models as m
from worker.db import insert_for
from worker.definition import Definition
from worker.errors import RunNotStarted
from worker.events import BlockCompleted, RunFinished, RunStarted, redact_event
from worker.run import ActionRecord, BlockRun, RunRecord, TaskRecord

PENDING, RUNNING = "pending", "running"  # known from blocks only / run_started seen

Event = RunStarted | BlockCompleted | RunFinished


def record_event(session: Session, event: Event) -> str:
    """Record one event; the same event twice, or events out of order, give the same rows."""
    # Times are kept in UTC: SQLite drops offsets, and blocks are ordered by occurred_at.
    event = redact_event(event).model_copy(
        update={"occurred_at": event.occurred_at.astimezone(UTC)}
    )
    if isinstance(event, RunStarted):
        _record_run_started(session, event)
    elif isinstance(event, BlockCompleted):
        _record_block(session, event)
    else:
        _record_run_finished(session, event)
    return event.workflow_run_id


def first_delivery(session: Session, event_id: str, workflow_run_id: str, now: datetime) -> bool:
    """Remember an event id; False when it was taken in before (a redelivery)."""
    inserted = session.scalar(
        insert_for(session, m.ReceivedEvent)
        .values(event_id=event_id, workflow_run_id=workflow_run_id, received_at=now)
        .on_conflict_do_nothing()
        .returning(m.ReceivedEvent.event_id)
    )
    return inserted is not None


def _record_run_started(session: Session, event: RunStarted) -> None:
    definition = event.definition.model_dump(mode="json", exclude_unset=True)
    workflow = insert_for(session, m.Workflow).values(
        workflow_permanent_id=event.workflow_permanent_id,
        version=event.workflow_version,
        definition=definition,
        cache_key=event.definition.cache_key,
    )
    session.execute(workflow.on_conflict_do_nothing())
    values = dict(
        workflow_permanent_id=event.workflow_permanent_id,
        workflow_version=event.workflow_version,
        parameters=dict(event.parameters),
        run_with=event.run_with,
        code_gen=event.code_gen,
        started_at=event.occurred_at,
    )
    run = insert_for(session, m.WorkflowRun).values(
        workflow_run_id=event.workflow_run_id, status=RUNNING, **values
    )
    table = m.WorkflowRun.__table__.c
    session.execute(
        run.on_conflict_do_update(
            index_elements=["workflow_run_id"],
            set_={
                **values,
                "status": case((table.status.in_([PENDING, RUNNING]), RUNNING), else_=table.status),
            },
        )
    )


def _record_run_finished(session: Session, event: RunFinished) -> None:
    values = dict(status=event.status, finished_at=event.occurred_at)
    run = insert_for(session, m.WorkflowRun).values(
        workflow_run_id=event.workflow_run_id, code_gen=False, **values
    )
    session.execute(run.on_conflict_do_update(index_elements=["workflow_run_id"], set_=values))


def _record_block(session: Session, event: BlockCompleted) -> None:
    run = insert_for(session, m.WorkflowRun).values(
        workflow_run_id=event.workflow_run_id, status=PENDING, code_gen=False
    )
    session.execute(run.on_conflict_do_nothing())
    block_id = event.workflow_run_block_id
    block = dict(
        workflow_run_id=event.workflow_run_id,
        parent_workflow_run_block_id=event.parent_workflow_run_block_id,
        label=event.label,
        block_type=event.block_type,
        status=event.status,
        executed_with=event.executed_with,
        loop_index=event.loop_index,
        loop_value=event.loop_value,
        task_id=event.task.task_id if event.task else None,
        occurred_at=event.occurred_at,
    )
    _upsert(
        session,
        m.WorkflowRunBlock,
        [{"workflow_run_block_id": block_id, **block}],
        "workflow_run_block_id",
    )
    if event.task is not None:
        task = event.task
        _upsert(
            session,
            m.Task,
            [
                dict(
                    task_id=task.task_id,
                    workflow_run_id=event.workflow_run_id,
                    workflow_run_block_id=block_id,
                    url=task.url,
                    navigation_goal=task.navigation_goal,
                    data_extraction_goal=task.data_extraction_goal,
                    extracted_information_schema=task.extracted_information_schema,
                )
            ],
            "task_id",
        )
    rows = [
        dict(
            action_id=a.action_id,
            task_id=event.task.task_id if event.task else None,
            workflow_run_id=event.workflow_run_id,
            workflow_run_block_id=block_id,
            ordinal=i,
            action_type=a.action_type,
            xpath=a.xpath,
            intention=a.intention,
            reasoning=a.reasoning,
            text=a.text,
            option=a.option,
            parameter_key=a.parameter_key,
            status=a.status,
        )
        for i, a in enumerate(event.actions)
    ]
    if rows:
        _upsert(session, m.Action, rows, "action_id")


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert(session: Session, model: type[m.Base], rows: list[dict[str, Any]], key: str) -> None:
    """One INSERT ... ON CONFLICT DO UPDATE of every column for all rows, sent as a batched
    executemany; the statement is built once per dialect and table (it is immutable)."""
    dialect = session.get_bind().dialect.name
    stmt = _UPSERTS.get((dialect, model.__tablename__))
    if stmt is None:
        insert = insert_for(session, model.__table__)
        updates = {c.name: insert.excluded[c.name] for c in model.__table__.columns
                   if c.name != key}
        stmt = insert.on_conflict_do_update(index_elements=[key], set_=updates)
        _UPSERTS[(dialect, model.__tablename__)] = stmt
    session.execute(stmt, rows)


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
        )

    return tuple(build(row, 0) for row in children.get(None, []))
