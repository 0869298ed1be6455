"""block_completed.output is recorded (both intake paths alike) and loaded with the run."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tests.integration.test_block_intake import both_paths
from tests.recordings import Recorder, act, defn
from worker.adapters.sql.recording import load_run
from worker.domain.events import parse_event

OUTPUT = {"ticket": "T-99817", "lines": [{"sku": "A", "n": 2}], "ok": True, "none": None}


def events() -> list[Any]:
    rec = Recorder(
        "wr_out",
        defn(
            [
                {"label": "read", "block_type": "extraction"},
                {"label": "plain", "block_type": "task"},
            ]
        ),
    )
    rec.block("read", "extraction", [act("extract", None, "Read")], task={}, output=OUTPUT)
    rec.block("plain", "task", [act("click", "//a", "Go")], task={})
    return [parse_event(e) for e in rec.finish().events]


def test_the_output_is_stored_alike_by_both_intake_paths_and_loaded_with_the_run(
    pg_sessions: sessionmaker[Session],
) -> None:
    (generic_results, generic_rows), (results, rows) = both_paths(pg_sessions, events())

    assert rows == generic_rows and results == generic_results
    outputs = {b["label"]: b["output"] for b in map(json.loads, rows["workflow_run_blocks"])}
    assert outputs == {"read": OUTPUT, "plain": None}
    with pg_sessions() as session:
        run = load_run(session, "wr_out")
    assert run is not None
    assert [(b.label, b.output) for b in run.blocks] == [("read", OUTPUT), ("plain", None)]
    assert run.outputs_before()[run.blocks[1].workflow_run_block_id] == {"read": OUTPUT}
