"""A replayed run's events (ARCHITECTURE.md §8) are recorded whole by both intake paths:
the revision it executed, where its blocks fell back, who did each action. Real PostgreSQL."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session, sessionmaker

from tests.integration.test_block_intake import both_paths
from tests.unit.test_events_closed_loop import replayed_run
from worker.adapters.sql.recording import load_run
from worker.domain.events import parse_event


def test_both_intake_paths_record_script_fallback_and_source_alike(
    pg_sessions: sessionmaker[Session],
) -> None:
    events = [parse_event(e) for e in replayed_run()]

    (generic_results, generic_rows), (results, rows) = both_paths(pg_sessions, events)

    assert rows == generic_rows and results == generic_results
    blocks = {b["label"]: b["fallback"] for b in map(json.loads, rows["workflow_run_blocks"])}
    assert blocks == {"sign_in": "element", "report": "block"}
    actions = sorted(
        (a["ordinal"], a["status"], a["source"])
        for a in map(json.loads, rows["actions"])
        if a["action_id"].startswith("act_wrb_wr_replay_00002")
    )
    assert actions == [(0, "skipped", "agent"), (1, "failed", "code"), (2, "completed", "agent")]
    run = json.loads(rows["workflow_runs"][0])
    assert (run["script_id"], run["script_version"]) == (7, 3)


def test_the_loaded_run_carries_the_fields_the_decision_and_generator_read(
    pg_sessions: sessionmaker[Session],
) -> None:
    both_paths(pg_sessions, [parse_event(e) for e in replayed_run()])

    with pg_sessions() as session:
        run = load_run(session, "wr_replay")

    assert run is not None and run.script == (7, 3)
    sign_in, report = run.blocks
    assert (sign_in.fallback, sign_in.executed_with, report.fallback) == (
        "element",
        "code",
        "block",
    )
    assert [(a.source, a.skipped) for a in sign_in.actions] == [
        ("agent", True),
        ("code", False),
        ("agent", False),
    ]
