"""Repair through the real generation path (worker/service.py) on PostgreSQL: a cached block
that fell back gets a fresh entry from the run that fell back, the revision is marked as a
repair, and the repair budget stops a block that keeps failing from consuming revisions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factory import RunBuilder, definition, task_block
from tests.keys import SEAL_KEY, SEAL_KEY_TEXT
from worker.adapters.sql import models as m
from worker.adapters.store import MemoryStore
from worker.app.generation import generate_now
from worker.app.intake import record_only
from worker.domain.events import parse_event

DEFINITION = definition([task_block("sign_in", "login"), task_block("report")])


def agent_run() -> list[dict[str, Any]]:
    run = RunBuilder("wr_agent", "wf_repair", DEFINITION)
    run.block("sign_in", "login")
    run.block("report")
    return run.finish()


def fell_back(run_id: str, xpath: str) -> list[dict[str, Any]]:
    """A replay in which sign_in's button moved: the agent clicked it at `xpath`."""
    run = RunBuilder(run_id, "wf_repair", DEFINITION)
    run.events[0].update(run_with="code", script={"script_id": 1, "version": 1})
    run.block(
        "sign_in",
        "login",
        executed_with="code",
        actions=[
            {
                "action_type": "click",
                "xpath": "//button[@id='sign_in-0']",
                "intention": "Step 0",
                "source": "code",
            },
            {
                "action_type": "click",
                "xpath": "//button[@id='sign_in-1']",
                "intention": "Step 1",
                "status": "failed",
                "source": "code",
            },
            {"action_type": "click", "xpath": xpath, "intention": "Step 1", "source": "agent"},
        ],
    )
    run.events[-1]["fallback"] = "element"
    run.block("report", executed_with="code")
    return run.finish()


def record(
    sessions: sessionmaker[Session],
    store: MemoryStore,
    events: list[dict[str, Any]],
    per_day: int = 10,
) -> Any:
    (run_id,) = record_only(sessions, [parse_event(e) for e in events], SEAL_KEY)
    return generate_now(sessions, store, run_id, repairs_per_day=per_day)


def test_a_fallback_repairs_only_its_block_from_the_replay(
    pg_sessions: sessionmaker[Session],
) -> None:
    store = MemoryStore()
    record(pg_sessions, store, agent_run())

    result = record(pg_sessions, store, fell_back("wr_replay", "/html/body/div[2]/button"))

    assert (result.regenerated, result.labels, result.version) == (True, ("sign_in",), 2)
    assert result.reason == "repair: cached blocks fell back: sign_in"
    with pg_sessions() as session:
        rows = session.execute(
            select(m.ScriptRevision.version, m.ScriptRevision.repair).order_by(
                m.ScriptRevision.version
            )
        ).all()
        blocks = dict(
            session.execute(
                select(m.ScriptBlock.label, m.ScriptBlock.source_workflow_run_id).where(
                    m.ScriptBlock.script_revision_id
                    == select(m.Script.current_revision_id).scalar_subquery()
                )
            ).all()
        )
    assert [tuple(r) for r in rows] == [(1, False), (2, True)]
    with pg_sessions() as session:  # nothing was held back
        assert session.scalars(select(m.Script.repair_held_at)).one() is None
    assert blocks == {"__start_block__": "wr_replay", "sign_in": "wr_replay", "report": "wr_agent"}


def test_a_block_that_keeps_failing_stops_consuming_revisions_when_the_budget_is_spent(
    pg_sessions: sessionmaker[Session],
    pg_url: str,
    tmp_path: Path,
) -> None:
    store = MemoryStore()
    record(pg_sessions, store, agent_run())

    results = [
        record(pg_sessions, store, fell_back(f"wr_{i}", f"/html/body/div[{i}]/button"), per_day=3)
        for i in range(5)
    ]
    history = subprocess.run(
        [str(Path(sys.executable).with_name("scriptcache")), "script", "history", "wf_repair"],
        env={
            **os.environ,
            "SCRIPTCACHE_DATABASE_URL": pg_url,
            "SCRIPTCACHE_SEAL_KEY": SEAL_KEY_TEXT,
            "SCRIPTCACHE_STORE_URL": f"file://{tmp_path}/blobs",
            "COLUMNS": "250",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout

    assert [r.regenerated for r in results] == [True, True, True, False, False]
    assert [r.version for r in results] == [2, 3, 4, 4, 4]
    assert results[3].reason == (
        "repair budget spent: 3 repair revisions of this script in the last 24 h "
        "(SCRIPTCACHE_REPAIRS_PER_DAY=3); not repaired: sign_in"
    )
    # the operator sees the last held run and why, without the worker's log
    with pg_sessions() as session:
        script = session.scalars(select(m.Script)).one()
        held = (script.repair_held_run, script.repair_held_reason)
    assert held == ("wr_4", results[4].reason)
    last = history.rstrip("\n").splitlines()[-1]
    assert last.startswith("last repair held back: ") and last.endswith(
        f"(run wr_4): {results[4].reason}"
    ), history
