"""The one-statement intake of block events (worker/adapters/sql/block_intake.py) against the generic path
(first_delivery + record_event + debounce.bump): the same event streams, taken in at the same
moments, must leave every row of every table identical and report the same debounce results.

Real PostgreSQL; generations are interleaved (claim + compare-and-clear) so that the debounce
record goes idle and pending again, which is where the bump's branches differ.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from tests.factory import RunBuilder, definition, task_block
from tests.integration.test_recording import ORDERS, sample_events
from tests.recordings import T0
from worker.adapters.sql import debounce
from worker.adapters.sql import models as m
from worker.adapters.sql.recording import UPSERT_KEYS, columns
from worker.app.intake import record_and_bump
from worker.domain.events import parse_event
from worker.domain.window import Timing

SETTINGS = Settings(quiet_s=2.0, max_wait_s=9.0)
TABLES = (
    m.Workflow,
    m.WorkflowRun,
    m.WorkflowRunBlock,
    m.Task,
    m.Action,
    m.RunDebounce,
    m.ReceivedEvent,
)
# Gaps between events, in ms: bursts, quiet periods and waits past the deadline.
GAPS_MS = (120, 40, 2_500, 700, 9_500, 15, 1_900, 300)


def feed(sessions: sessionmaker[Session], events: list[Any], *, one_statement: bool) -> list[Any]:
    """Take the events in at fixed moments. After every fifth event, claim whatever is due;
    two events later, compare-and-clear: events arrive during a live lease, where the next
    window starts."""
    results: list[Any] = []  # what each intake returned
    cleared: list[Any] = []  # what each compare-and-clear returned
    held: dict[str, debounce.Claim] = {}
    now = T0
    for i, event in enumerate(events):
        now += timedelta(milliseconds=GAPS_MS[i % len(GAPS_MS)])
        with sessions.begin() as session:
            results.append(
                record_and_bump(session, event, now, SETTINGS, one_statement=one_statement)
            )
        if i % 5 == 1:
            for run_id, claim in held.items():
                with sessions.begin() as session:
                    cleared.append(debounce.complete(session, run_id, claim, now))
            held.clear()
        if i % 5 == 4:
            for run_id in sorted({e.workflow_run_id for e in events}):
                with sessions.begin() as session:
                    claim = debounce.claim(session, run_id, now, lease_s=60)
                if isinstance(claim, debounce.Claim):
                    held[run_id] = claim
    for run_id, claim in held.items():
        with sessions.begin() as session:
            cleared.append(debounce.complete(session, run_id, claim, now))
    results.append(cleared)
    return results


def snapshot(sessions: sessionmaker[Session]) -> dict[str, list[str]]:
    with sessions() as session:
        return {
            model.__tablename__: sorted(
                json.dumps(dict(row), sort_keys=True, default=str)
                for row in session.execute(select(model.__table__)).mappings()
            )
            for model in TABLES
        }


def clear(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for model in TABLES:
            session.execute(delete(model))


def both_paths(sessions: sessionmaker[Session], events: list[Any]) -> tuple[Any, Any]:
    generic = feed(sessions, events, one_statement=False), snapshot(sessions)
    clear(sessions)
    one = feed(sessions, events, one_statement=True), snapshot(sessions)
    return generic, one


@pytest.mark.parametrize("order", list(ORDERS), ids=list(ORDERS))
def test_one_statement_and_generic_intake_leave_the_same_rows(
    pg_sessions: sessionmaker[Session], order: str
) -> None:
    events = ORDERS[order](sample_events(), None)

    (generic_results, generic_rows), (results, rows) = both_paths(pg_sessions, events)

    assert rows == generic_rows
    assert results == generic_results
    assert len(rows["actions"]) == 38 and len(rows["received_events"]) == 26
    assert any(due is not None for due in results[-1])  # a window started during a lease
    duplicates = sum(r is None for r in results[:-1])
    assert duplicates == len(events) - 26
    assert any(r is not None and r.started_pending for r in results[1:])  # idle → pending again


def odd_blocks() -> list[Any]:
    """Blocks the sample lacks: no task, repeated action ids, JSON loop values, a schema."""
    run = RunBuilder(
        "wr_odd",
        "wf_odd",
        definition(
            [
                task_block("extract", block_type="extraction"),
                {"label": "wait_a_bit", "block_type": "wait", "wait_sec": 1},
            ]
        ),
    )
    run.block(
        "extract",
        "extraction",
        actions=[{"action_type": "extract", "intention": "A"}],
        loop_index=2,
        loop_value={"order": "A-1", "lines": [1, 2]},
    )
    run.block("wait_a_bit", "wait", actions=0)
    events = run.events
    repeated = dict(events[1], event_id="ev_repeated", workflow_run_block_id="wrb_repeated")
    first = dict(events[1]["actions"][0], action_id="act_same", text="first")
    repeated["actions"] = [first, dict(first, text="second", intention="again")]
    repeated["task"] = dict(
        events[1]["task"], task_id="tsk_repeated", extracted_information_schema={"type": "object"}
    )
    return [parse_event(e) for e in [*events, repeated]]


def test_blocks_without_task_with_repeated_action_ids_and_json_values(
    pg_sessions: sessionmaker[Session],
) -> None:
    events = odd_blocks()

    (generic_results, generic_rows), (results, rows) = both_paths(pg_sessions, events)

    assert rows == generic_rows and results == generic_results
    assert [
        json.loads(a)["text"] for a in rows["actions"] if json.loads(a)["action_id"] == "act_same"
    ] == ["second"]
    blocks = [json.loads(b) for b in rows["workflow_run_blocks"]]
    assert {b["block_type"]: b["task_id"] is None for b in blocks}["wait"]
    assert {"order": "A-1", "lines": [1, 2]} in [b["loop_value"] for b in blocks]


def test_the_statement_is_short_enough_for_psycopgs_parse_cache() -> None:
    """psycopg re-parses every execution of a longer query (measured: ~0.1 ms per event)."""
    from psycopg import _queries
    from sqlalchemy.dialects import postgresql

    from worker.adapters.sql.block_intake import _statement

    compiled = _statement(Timing.of(Settings())).compile(dialect=postgresql.psycopg.dialect())
    assert len(str(compiled).encode()) <= _queries.MAX_CACHED_STATEMENT_LENGTH
    assert len(compiled.params) <= _queries.MAX_CACHED_STATEMENT_PARAMS


@pytest.mark.parametrize("model", list(UPSERT_KEYS), ids=lambda model: model.__tablename__)
def test_the_upserted_tables_columns_are_in_the_models_order(
    pg_sessions: sessionmaker[Session],
    model: type[m.Base],
) -> None:
    """The one-statement upserts set every column from `excluded.*`, which is in the table's
    physical order: a migration must add a column where the model declares it (at the end)."""
    with pg_sessions() as session:
        physical = session.scalars(
            text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
                "ORDER BY ordinal_position"
            ),
            {"t": model.__tablename__},
        ).all()
    assert list(physical) == columns(model)


def test_a_block_taken_in_while_run_started_is_being_recorded_does_not_deadlock(
    pg_sessions: sessionmaker[Session],
) -> None:
    """run_started (generic path) holds the new run's row; a block of the same run arrives in
    another transaction and waits for it; run_started then bumps the debounce row. Both must
    commit: the block's statement must not have locked the debounce row first."""
    import threading

    from worker.adapters.sql.recording import first_delivery, record_event

    run = RunBuilder("wr_lock", "wf_lock", definition([task_block("a")]))
    run.block("a")
    started, block = (parse_event(e) for e in run.events)
    errors: list[BaseException] = []

    def take_block() -> None:
        try:
            with pg_sessions.begin() as session:
                record_and_bump(session, block, T0, SETTINGS)
        except BaseException as exc:  # reported below
            errors.append(exc)

    with pg_sessions.begin() as session:
        assert first_delivery(session, started.event_id, started.workflow_run_id, T0)
        record_event(session, started)
        other = threading.Thread(target=take_block)
        other.start()
        other.join(0.5)
        assert other.is_alive(), "the block did not wait for the run's row"
        debounce.bump(session, started.workflow_run_id, T0, Timing(quiet_s=2, max_wait_s=9))
    other.join(10)

    assert errors == []
    rows = snapshot(pg_sessions)
    assert len(rows["workflow_run_blocks"]) == 1 and len(rows["received_events"]) == 2
    assert json.loads(rows["run_debounce"][0])["seq"] == 2
