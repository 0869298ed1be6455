"""Recorded runs for unit tests, made by the worker's own code: events are recorded with
worker.adapters.sql.recording.record_event and read back with worker.adapters.sql.recording.load_run, in an in-memory
SQLite database with the real schema (the goldens see exactly what a generation sees)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from worker.adapters.sql.engine import make_engine, make_sessionmaker
from worker.adapters.sql.migrate import upgrade
from worker.adapters.sql.recording import load_run, record_event
from worker.domain.events import Event, parse_event, parse_line
from worker.domain.lines import read_lines
from worker.domain.run import RunRecord

T0 = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)


@cache
def _sessions() -> sessionmaker[Session]:
    """One in-memory database for the test process, migrated once."""
    engine = make_engine("sqlite://", poolclass=StaticPool)
    upgrade(engine)
    return make_sessionmaker(engine)


def run_from_events(events: list[Event]) -> RunRecord:
    """One run's events (any order, repeats allowed) → its RunRecord, as the worker records
    (credentials redacted) and loads it. Nothing stays in the database."""
    with _sessions()() as session:
        try:
            for event in events:
                record_event(session, event)
            run = load_run(session, events[0].workflow_run_id)
        finally:
            session.rollback()
    if run is None:
        raise LookupError(f"run {events[0].workflow_run_id}: not recorded")
    return run


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


# --- building events ----------------------------------------------------------------------


def act(
    action_type: str, xpath: str | None = None, intention: str | None = None, **fields: Any
) -> dict[str, Any]:
    return {"action_type": action_type, "xpath": xpath, "intention": intention, **fields}


class Recorder:
    """The events of one run, with deterministic ids and times."""

    def __init__(
        self, run_id: str, definition: dict[str, Any], parameters: dict[str, Any] | None = None
    ) -> None:
        self.run_id, self.n = run_id, 0
        self.events = [
            self._event(
                "run_started",
                {
                    "workflow_permanent_id": f"wpid_{run_id}",
                    "workflow_version": 1,
                    "definition": definition,
                    "parameters": parameters or {},
                    "run_with": "agent",
                    "code_gen": False,
                },
            )
        ]

    def _event(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        return {
            "type": kind,
            "event_id": f"evt_{self.run_id}_{self.n:03d}",
            "occurred_at": (T0 + timedelta(seconds=self.n)).isoformat(),
            "workflow_run_id": self.run_id,
            **fields,
        }

    def block(
        self,
        label: str,
        block_type: str,
        actions: Sequence[dict[str, Any]] = (),
        *,
        task: dict[str, Any] | None = None,
        parent: str | None = None,
        block_id: str | None = None,
        loop_index: int | None = None,
        loop_value: Any = None,
        status: str = "completed",
        output: Any = None,
    ) -> str:
        block_id = block_id or f"wrb_{self.run_id}_{self.n + 1:03d}"
        if task is not None:
            task = {
                "task_id": f"tsk_{block_id}",
                "url": None,
                "navigation_goal": None,
                "data_extraction_goal": None,
                "extracted_information_schema": None,
                **task,
            }
        acts = [
            {
                "action_id": f"act_{block_id}_{i}",
                "reasoning": None,
                "text": None,
                "option": None,
                "parameter_key": None,
                "status": "completed",
                **a,
            }
            for i, a in enumerate(actions)
        ]
        self.events.append(
            self._event(
                "block_completed",
                {
                    "workflow_run_block_id": block_id,
                    "parent_workflow_run_block_id": parent,
                    "label": label,
                    "block_type": block_type,
                    "status": status,
                    "executed_with": "agent",
                    "loop_index": loop_index,
                    "loop_value": loop_value,
                    "task": task,
                    "actions": acts,
                    **({} if output is None else {"output": output}),
                },
            )
        )
        return block_id

    def finish(self, status: str = "completed") -> Recorder:
        self.events.append(self._event("run_finished", {"status": status}))
        return self

    def run(self) -> RunRecord:
        """The recorded run, redacted as intake would."""
        return runs_from_raw(self.events)[0]

    def write(self, directory: Path, name: str, status: str = "completed") -> None:
        self.finish(status)
        lines = [json.dumps(e, ensure_ascii=False) for e in self.events]
        (directory / f"{name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def defn(blocks: list[dict[str, Any]], parameters: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    return {
        "title": "golden",
        "cache_key": "default",
        "parameters": list(parameters),
        "blocks": blocks,
    }


def param(key: str, kind: str = "workflow") -> dict[str, Any]:
    return {"key": key, "parameter_type": kind}


SAMPLE = Path(__file__).resolve().parents[1] / "worker" / "samples" / "order-portal.jsonl"


def sample_runs() -> list[RunRecord]:
    """The bundled order-portal recording: run 1 takes the refund branch, run 2 support."""
    return runs_from_jsonl(SAMPLE)
