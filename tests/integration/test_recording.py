"""Recording events idempotently, in any order, and loading a run in constant queries.

Real PostgreSQL (a fresh migrated database per test); one test on SQLite.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, delete, event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from worker.adapters.sql import models as m
from worker.adapters.sql.engine import make_sessionmaker
from worker.adapters.sql.recording import load_run, record_event
from worker.domain.errors import RunNotStarted
from worker.domain.events import INT32_MAX, parse_event, parse_line
from worker.domain.lines import read_lines

SAMPLE = Path(__file__).resolve().parents[2] / "worker" / "samples" / "order-portal.jsonl"
SECRET = "not-a-real-secret"
RECORDING_TABLES = (m.Workflow, m.WorkflowRun, m.WorkflowRunBlock, m.Task, m.Action)

Event = Any


def sample_events() -> list[Event]:
    return [parse_line(line) for line in read_lines(SAMPLE.read_text(encoding="utf-8"))]


def record(sessions: sessionmaker[Session], events: Iterable[Event]) -> None:
    """One transaction per event, as intake does."""
    for item in events:
        with sessions.begin() as session:
            record_event(session, item)


def snapshot(sessions: sessionmaker[Session]) -> dict[str, list[dict[str, Any]]]:
    """Every row of the recording tables, as sorted plain dicts."""
    with sessions() as session:
        return {
            model.__tablename__: sorted(
                (dict(row) for row in session.execute(select(model.__table__)).mappings()),
                key=lambda row: json.dumps(row, sort_keys=True, default=str),
            )
            for model in RECORDING_TABLES
        }


def clear(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for model in RECORDING_TABLES:
            session.execute(delete(model))


def _is_run_started(e: Event) -> bool:
    return bool(e.type == "run_started")


ORDERS = {
    "each event twice": lambda events, _: [e for e in events for _ in range(2)],
    "the whole file twice": lambda events, _: events + events,
    "reversed": lambda events, _: list(reversed(events)),
    "blocks before run_started": lambda events, _: (
        [e for e in events if not _is_run_started(e)] + [e for e in events if _is_run_started(e)]
    ),
    "run_finished before the last block": lambda events, _: _finish_early(events),
    **{
        f"shuffled with seed {seed}": (lambda s: lambda events, _: _shuffled(events, s))(seed)
        for seed in (1, 7, 2026)
    },
    "shuffled with repeats": lambda events, _: _shuffled(events + events[::3], 99),
}


def _shuffled(events: list[Event], seed: int) -> list[Event]:
    events = list(events)
    random.Random(seed).shuffle(events)
    return events


def _finish_early(events: list[Event]) -> list[Event]:
    out: list[Event] = []
    for e in events:
        if e.type == "run_finished":
            out.insert(len(out) - 1, e)  # before that run's last block
        else:
            out.append(e)
    return out


def test_the_orders_really_reorder() -> None:
    events = sample_events()
    early = ORDERS["run_finished before the last block"](events, None)
    blocks_first = ORDERS["blocks before run_started"](events, None)

    assert early.index(events[12]) < early.index(events[11])  # run 1 finished, then settled
    assert blocks_first[0].type == "block_completed"
    assert {e.event_id for e in _shuffled(events, 1)} == {e.event_id for e in events}
    assert _shuffled(events, 1) != events


@pytest.mark.parametrize("order", list(ORDERS), ids=list(ORDERS))
def test_any_order_or_repetition_of_events_gives_the_same_rows(
    pg_sessions: sessionmaker[Session], order: str
) -> None:
    events = sample_events()
    record(pg_sessions, events)
    expected = snapshot(pg_sessions)
    clear(pg_sessions)
    assert snapshot(pg_sessions)["workflow_runs"] == []

    record(pg_sessions, ORDERS[order](events, None))

    assert snapshot(pg_sessions) == expected
    assert {t: len(rows) for t, rows in expected.items()} == {
        "workflows": 1,
        "workflow_runs": 2,
        "workflow_run_blocks": 22,
        "tasks": 16,
        "actions": 38,
    }


def test_the_final_run_rows_hold_what_the_run_events_said(
    pg_sessions: sessionmaker[Session],
) -> None:
    record(pg_sessions, _shuffled(sample_events(), 5))

    with pg_sessions() as session:
        run = session.get(m.WorkflowRun, "wr_portal_1")
        assert run is not None
        assert (run.status, run.workflow_permanent_id, run.workflow_version) == (
            "completed",
            "wpid_order_portal",
            1,
        )
        assert run.started_at is not None and run.finished_at is not None
        assert run.started_at < run.finished_at
        assert run.parameters["action"] == "refund"


def test_the_credential_value_appears_in_no_row(pg_sessions: sessionmaker[Session]) -> None:
    events = sample_events()
    assert SECRET in SAMPLE.read_text(encoding="utf-8")

    record(pg_sessions, events)

    with pg_sessions() as session:
        for table in m.Base.metadata.sorted_tables:
            for row in session.execute(select(table)).mappings():
                assert SECRET not in json.dumps(dict(row), default=str), table.name
        run = session.get(m.WorkflowRun, "wr_portal_1")
        assert run is not None and "password" not in run.parameters
        texts = session.scalars(
            select(m.Action.text).where(m.Action.parameter_key.is_not(None))
        ).all()
        assert texts and set(texts) == {None}


def test_load_run_builds_the_loop_children_under_the_loop_block(
    pg_sessions: sessionmaker[Session],
) -> None:
    record(pg_sessions, _shuffled(sample_events(), 3))

    with pg_sessions() as session:
        run = load_run(session, "wr_portal_1")

    assert run is not None
    assert run.status == "completed"
    assert run.definition.required_labels() == {
        "sign_in",
        "each_order",
        "request_refund",
        "contact_support",
    }
    assert [b.label for b in run.blocks] == [
        "sign_in",
        "each_order",
        "route",
        "request_refund",
        "settle",
    ]
    loop = run.runs_of("each_order")[0]
    assert [(c.label, c.loop_index) for c in loop.children] == [
        ("open_order", 0),
        ("read_order", 0),
        ("open_order", 1),
        ("read_order", 1),
        ("open_order", 2),
        ("read_order", 2),
    ]
    assert {c.parent_workflow_run_block_id for c in loop.children} == {loop.workflow_run_block_id}
    assert [c.loop_value for c in loop.children[::2]] == ["A-1001", "A-1002", "A-1003"]
    assert len(loop.children[2].actions) == 4
    sign_in = run.runs_of("sign_in")[0]
    assert sign_in.task is not None and sign_in.task.task_id == "tsk_wr_portal_1_002"
    assert [a.action_type for a in sign_in.actions] == [
        "input_text",
        "input_text",
        "click",
        "complete",
    ]
    assert [a.text for a in sign_in.actions] == [None, None, None, None]
    assert "password" not in run.parameters
    assert loop.children[1].task is not None
    assert loop.children[1].task.extracted_information_schema == {
        "type": "object",
        "properties": {"status": {"type": "string"}, "total": {"type": "number"}},
    }


def test_load_run_returns_actions_in_execution_order_whatever_the_storage_order(
    pg_sessions: sessionmaker[Session],
) -> None:
    record(pg_sessions, sample_events())
    first = m.Action.__table__.c.action_id == "act_wr_portal_1_002_0"
    with pg_sessions.begin() as session:  # delete and re-insert: stored after its successors
        row = dict(session.execute(select(m.Action.__table__).where(first)).mappings().one())
        session.execute(delete(m.Action.__table__).where(first))
        session.execute(insert(m.Action.__table__).values(row))

    with pg_sessions() as session:
        run = load_run(session, "wr_portal_1")

    assert run is not None
    sign_in = run.runs_of("sign_in")[0]
    assert [a.action_id for a in sign_in.actions] == [f"act_wr_portal_1_002_{i}" for i in range(4)]


def test_load_run_of_an_unknown_run_is_none(pg_sessions: sessionmaker[Session]) -> None:
    record(pg_sessions, sample_events())

    with pg_sessions() as session:
        assert load_run(session, "wr_nobody") is None


@pytest.mark.parametrize(
    "kinds",
    [{"block_completed"}, {"run_finished"}, {"block_completed", "run_finished"}],
    ids=["blocks only", "run_finished only", "blocks and run_finished"],
)
def test_load_run_of_a_run_without_run_started_raises_run_not_started(
    pg_sessions: sessionmaker[Session], kinds: set[str]
) -> None:
    record(
        pg_sessions,
        [e for e in sample_events() if e.workflow_run_id == "wr_portal_2" and e.type in kinds],
    )

    with pg_sessions() as session, pytest.raises(RunNotStarted, match="wr_portal_2"):
        load_run(session, "wr_portal_2")


def test_values_at_the_validation_bounds_fit_their_columns(
    pg_sessions: sessionmaker[Session],
) -> None:
    lines = read_lines(SAMPLE.read_text(encoding="utf-8"))
    started, block = json.loads(lines[0]), json.loads(lines[2])
    started["workflow_version"] = INT32_MAX
    block |= {
        "block_type": "t" * 64,
        "loop_index": INT32_MAX,
        "workflow_run_block_id": "b" * 256,
        "parent_workflow_run_block_id": None,
    }
    block["actions"][0] |= {"action_type": "a" * 64, "status": "s" * 32}

    record(pg_sessions, [parse_event(started), parse_event(block)])

    with pg_sessions() as session:
        run = load_run(session, "wr_portal_1")
    assert run is not None and run.workflow_version == INT32_MAX
    (only,) = run.blocks
    assert (only.block_type, only.loop_index, only.workflow_run_block_id) == (
        "t" * 64,
        INT32_MAX,
        "b" * 256,
    )
    assert (only.actions[0].action_type, only.actions[0].status) == ("a" * 64, "s" * 32)


# --- constant number of queries --------------------------------------------------------------


def synthetic_run(run_id: str, blocks: int, actions: int) -> list[Event]:
    definition = {
        "title": "big",
        "cache_key": "default",
        "blocks": [
            {"label": f"step_{i}", "block_type": "task", "url": f"https://big.test/{i}"}
            for i in range(blocks)
        ],
    }
    at = "2026-11-20T09:00:00+00:00"
    raw: list[dict[str, Any]] = [
        {
            "type": "run_started",
            "event_id": f"{run_id}_start",
            "occurred_at": at,
            "workflow_run_id": run_id,
            "workflow_permanent_id": f"wpid_{run_id}",
            "workflow_version": 1,
            "definition": definition,
            "parameters": {},
        }
    ]
    for i in range(blocks):
        raw.append(
            {
                "type": "block_completed",
                "event_id": f"{run_id}_b{i}",
                "occurred_at": f"2026-11-20T09:{i // 60:02d}:{i % 60:02d}+00:00",
                "workflow_run_id": run_id,
                "workflow_run_block_id": f"{run_id}_wrb_{i}",
                "label": f"step_{i}",
                "block_type": "task",
                "status": "completed",
                "task": {"task_id": f"{run_id}_tsk_{i}", "url": f"https://big.test/{i}"},
                "actions": [
                    {
                        "action_id": f"{run_id}_act_{i}_{j}",
                        "action_type": "click",
                        "xpath": f"//button[{j}]",
                        "status": "completed",
                    }
                    for j in range(actions)
                ],
            }
        )
    raw.append(
        {
            "type": "run_finished",
            "event_id": f"{run_id}_end",
            "occurred_at": at,
            "workflow_run_id": run_id,
            "status": "completed",
        }
    )
    return [parse_event(copy.deepcopy(r)) for r in raw]


@contextmanager
def counting_statements(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_load_run_sends_the_same_small_number_of_statements_for_5_or_300_blocks(
    pg_engine: Engine,
    pg_sessions: sessionmaker[Session],
) -> None:
    record(pg_sessions, synthetic_run("wr_small", 5, 20))
    record(pg_sessions, synthetic_run("wr_large", 300, 20))

    counts, sizes = {}, {}
    for run_id in ("wr_small", "wr_large"):
        with pg_sessions() as session, counting_statements(pg_engine) as statements:
            run = load_run(session, run_id)
        assert run is not None
        counts[run_id] = len(statements)
        sizes[run_id] = (len(run.blocks), sum(len(b.actions) for b in run.blocks))

    assert sizes == {"wr_small": (5, 100), "wr_large": (300, 6000)}
    assert counts["wr_small"] == counts["wr_large"]
    assert 0 < counts["wr_large"] <= 6


# --- SQLite ----------------------------------------------------------------------------------


def test_sqlite_records_any_order_to_the_same_rows_and_loads_the_run(
    sqlite_engine: Engine,
) -> None:
    sessions = make_sessionmaker(sqlite_engine)
    events = sample_events()
    record(sessions, events)
    expected = snapshot(sessions)
    clear(sessions)

    record(sessions, _shuffled(events + events[::2], 11))

    assert snapshot(sessions) == expected
    with sessions() as session:
        run = load_run(session, "wr_portal_2")
        assert load_run(session, "wr_nobody") is None
    assert run is not None
    assert [b.label for b in run.blocks] == [
        "sign_in",
        "each_order",
        "route",
        "contact_support",
        "settle",
    ]
    assert len(run.runs_of("each_order")[0].children) == 6
    assert SECRET not in json.dumps(expected, default=str)
