"""1. Scheduling: scriptcache's debounced pipeline vs the reference's regenerate-on-every-block.

The same recorded event stream goes (a) through worker.app.intake.take_in / generation.generate_due
in-process, on a simulated clock: each event is taken in at its recorded time (`now`), and a
run's generation is processed when the simulated clock reaches the due time intake returned
(an ideal wake-up; no Celery), and (b) through the baseline, which records each event the same
way and then, after EVERY block completion, regenerates all labels the run executed so far
(worker.domain.codegen.generate_script + worker.adapters.sql.cache.publish, live entries of other labels carried
forward), as the reference does. Each side has its own fresh PostgreSQL database and blob
directory.

    .venv/bin/python bench/bench_scheduling.py [--runs 100] [--blocks 50]
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import (
    CountingStore,
    Databases,
    Result,
    Row,
    StatementCounter,
    actions_for,
    blob_bytes,
    fmt,
    ms,
    retime,
)
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from tests.factory import RunBuilder, definition, task_block
from worker.adapters.clock import ManualClock, utcnow
from worker.adapters.sql import cache
from worker.adapters.sql import models as m
from worker.adapters.sql.engine import make_engine, make_sessionmaker
from worker.adapters.sql.recording import load_run, record_event
from worker.adapters.store import LocalStore
from worker.app import generation
from worker.app.generation import generate_due
from worker.app.intake import take_in
from worker.domain.codegen import CarriedBlock, generate_script
from worker.domain.decision import executable_labels, executed_labels
from worker.domain.definition import render_cache_key
from worker.domain.events import parse_event

T0 = datetime(2020, 1, 6, 9, 0, tzinfo=UTC)  # in the past: the pipeline's lease clock is real
ACTIONS_PER_BLOCK = 5


def workflow(blocks: int) -> dict[str, Any]:
    """`blocks` block events per run: task blocks around a conditional with two branches."""
    before = (blocks - 2) // 2
    labels = [f"step_{i:03d}" for i in range(blocks - 2)]
    return definition(
        [
            *[task_block(label) for label in labels[:before]],
            {
                "label": "route",
                "block_type": "conditional",
                "branches": [
                    {"condition": "{{ go_a }}", "blocks": [task_block("branch_a")]},
                    {"condition": None, "blocks": [task_block("branch_b")]},
                ],
            },
            *[task_block(label) for label in labels[before:]],
        ],
        parameters=[{"key": "go_a", "parameter_type": "workflow"}],
    )


def event_stream(runs: int, blocks: int, workflows: int, seed: int = 6) -> list[dict[str, Any]]:
    """Runs start 2 s apart and overlap; blocks complete 50-500 ms apart; 20 % take branch B."""
    rng = random.Random(seed)
    defn = workflow(blocks)
    labels = [b["label"] for b in defn["blocks"]]
    timed: list[tuple[datetime, int, int, dict[str, Any]]] = []
    for r in range(runs):
        branch = "B" if rng.random() < 0.2 else "A"
        builder = RunBuilder(
            f"wr_sched_{r:04d}",
            f"wf_sched_{r % workflows}",
            defn,
            parameters={"go_a": branch == "A"},
        )
        for label in labels:
            if label == "route":
                builder.block("route", "conditional")
                label = "branch_a" if branch == "A" else "branch_b"
            builder.block(label, actions=actions_for(label, ACTIONS_PER_BLOCK))
        events = builder.finish()
        now = T0 + timedelta(seconds=2 * r)
        times = [now]
        for _ in events[1:]:
            now += ms(rng.uniform(50, 500))
            times.append(now)
        timed += [
            (t, r, i, e) for i, (t, e) in enumerate(zip(times, retime(events, times), strict=True))
        ]
    return [e for *_, e in sorted(timed, key=lambda x: x[:3])]


@contextmanager
def counting_generate_script() -> Iterator[Counter[str]]:
    """Count the pipeline's generate_script calls per run (a measuring probe, removed
    afterwards)."""
    calls: Counter[str] = Counter()
    original = generation.generate_script

    def probe(run: Any, *args: Any, **kwargs: Any) -> Any:
        calls[run.workflow_run_id] += 1
        return original(run, *args, **kwargs)

    generation.generate_script = probe  # type: ignore[assignment]
    try:
        yield calls
    finally:
        generation.generate_script = original  # type: ignore[assignment]


def run_pipeline(
    sessions: sessionmaker[Session],
    store: CountingStore,
    counter: StatementCounter,
    events: list[dict[str, Any]],
    settings: Settings,
) -> dict[str, Any]:
    due: dict[str, datetime] = {}
    tasks = 0
    clock = ManualClock(T0)

    def fire_until(now: datetime | None) -> None:
        nonlocal tasks
        while due:
            run_id, due_at = min(due.items(), key=lambda item: item[1])
            if now is not None and due_at > now:
                return
            del due[run_id]
            counter.phase = "generate"
            clock.now = max(clock.now, due_at)
            outcome = generate_due(
                sessions,
                store,
                run_id,
                settings,  # type: ignore[arg-type]
                clock,
            )
            tasks += 1
            if outcome.rearm_at is not None:
                due[run_id] = max(outcome.rearm_at, due_at)

    with counting_generate_script() as calls:
        for raw in events:
            now = datetime.fromisoformat(raw["occurred_at"])
            fire_until(now)
            counter.phase = "record"
            clock.now = max(clock.now, now)
            done = take_in(sessions, raw, raw["type"], settings, clock)
            due[done.workflow_run_id] = done.due_at
        fire_until(None)
    return {"generate_tasks": tasks, "generations": sum(calls.values()), "per_run": calls}


def regenerate_everything(
    sessions: sessionmaker[Session], store: CountingStore, run_id: str
) -> bool:
    """The reference's rule: regenerate every label the run executed so far."""
    with sessions() as session:
        run = load_run(session, run_id)
        assert run is not None
        key = render_cache_key(run.definition, run.parameters)
        live = cache.live_revision(session, run.workflow_permanent_id, key)
        blobs_since = cache.blob_watermark(session)
    executed = executed_labels(run)
    if run.failed or not executed:
        return False
    carried = (
        {}
        if live is None
        else {
            label: CarriedBlock(
                live.entries[label], store.get(live.files[live.paths[label]]).decode()
            )
            for label in sorted(executable_labels(run.definition, live.entries) - executed)
            if label in live.paths
        }
    )
    script = generate_script(run, executed, carried)
    hashes = {path: store.put(data) for path, data in script.files.items()}
    with sessions.begin() as session:
        cache.publish(
            session,
            wpid=run.workflow_permanent_id,
            cache_key_value=key,
            expected_revision_id=None if live is None else live.revision_id,
            script=script,
            workflow_version=run.workflow_version,
            source_run_id=run.workflow_run_id,
            file_hashes=hashes,
            now=utcnow(),
            blobs_since=blobs_since,
        )
    return True


def run_baseline(
    sessions: sessionmaker[Session],
    store: CountingStore,
    counter: StatementCounter,
    events: list[dict[str, Any]],
    _settings: Settings,
) -> dict[str, Any]:
    per_run: Counter[str] = Counter()
    for raw in events:
        event = parse_event(raw)
        counter.phase = "record"
        with sessions.begin() as session:
            record_event(session, event)
        if event.type == "block_completed":
            counter.phase = "generate"
            per_run[event.workflow_run_id] += regenerate_everything(
                sessions, store, event.workflow_run_id
            )
    generations = sum(per_run.values())
    return {"generate_tasks": generations, "generations": generations, "per_run": per_run}


def live_hashes(sessions: sessionmaker[Session]) -> dict[tuple[str, str], str]:
    with sessions() as session:
        rows = session.execute(
            select(
                m.Script.workflow_permanent_id,
                m.Script.cache_key_value,
                m.ScriptRevision.content_sha256,
            ).join(
                m.ScriptRevision,
                m.ScriptRevision.script_revision_id == m.Script.current_revision_id,
            )
        )
        return {(w, k): sha for w, k, sha in rows}


def measure(
    side: Callable[..., dict[str, Any]],
    url: str,
    events: list[dict[str, Any]],
    blobs: Path,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """One side over the events; the default timings unless `settings` says otherwise."""
    engine = make_engine(url)
    counter = StatementCounter(engine)
    sessions = make_sessionmaker(engine)
    store = CountingStore(LocalStore(blobs))
    settings = settings or Settings(database_url=url)
    cpu_s, wall_s = time.process_time(), time.perf_counter()
    figures = side(sessions, store, counter, events, settings)
    figures.update(
        cpu_s=time.process_time() - cpu_s,
        wall_s=time.perf_counter() - wall_s,
        db_cpu_s=counter.backend_cpu_s(),
        statements=counter.total(),
        gen_statements=counter.counts.get("generate", 0),
        bytes_put=store.bytes_put,
        bytes_stored=blob_bytes(blobs),
        live=live_hashes(sessions),
    )
    with sessions() as session:
        figures["revisions"] = len(session.scalars(select(m.ScriptRevision.version)).all())
    engine.dispose()
    return figures


def run(dbs: Databases, runs: int, blocks: int) -> Result:
    workflows = max(1, runs // 20)
    events = event_stream(runs, blocks, workflows)
    with tempfile.TemporaryDirectory(prefix="sc-bench-") as tmp:
        ours = measure(run_pipeline, dbs.fresh(), events, Path(tmp, "a"))
        ref = measure(run_baseline, dbs.fresh(), events, Path(tmp, "b"))
    same = ours["live"] == ref["live"]
    name = "regenerate on every block"
    b = "1 scheduling"

    def row(metric: str, key: str, unit: str, goal: str = "") -> Row:
        return Row(
            b, metric, ours[key], ref[key], unit, name, goal=goal, goal_min=20 if goal else None
        )

    result = Result(
        rows=[
            row("generations (generate_script calls)", "generations", "", "≥20x fewer"),
            row("revisions written", "revisions", ""),
            row("SQL statements, scheduling + generation", "gen_statements", "", "≥20x fewer"),
            row("SQL statements, total (recording included)", "statements", ""),
            row("bytes handed to the blob store", "bytes_put", "B"),
            row("CPU, benchmark process", "cpu_s", "s"),
            row("CPU, PostgreSQL backends", "db_cpu_s", "s"),
        ]
    )
    result.notes.append(
        f"{runs} runs x {blocks} block events ({ACTIONS_PER_BLOCK} actions each) of "
        f"{workflows} workflow(s), {len(events)} events; {ours['generate_tasks']} generate tasks "
        f"ran in the pipeline. Final live revisions identical (content_sha256 per script, "
        f"{len(ours['live'])} scripts): {'YES' if same else 'NO'}. "
        f"Wall time: pipeline {ours['wall_s']:.1f} s, baseline {ref['wall_s']:.1f} s; "
        f"bytes newly stored: {fmt(ours['bytes_stored'])} vs {fmt(ref['bytes_stored'])}."
    )
    result.series = {"scheduling": {r.metric: (r.value, r.baseline) for r in result.rows}}
    result.series["identical"] = same
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--blocks", type=int, default=50)
    args = parser.parse_args()
    dbs = Databases()
    try:
        result = run(dbs, args.runs, args.blocks)
    finally:
        dbs.drop_all()
    for r in result.rows:
        print(f"{r.metric}: {fmt(r.value)} vs {fmt(r.baseline)} (x{fmt(r.ratio())})")
    print(*result.notes, sep="\n")


if __name__ == "__main__":
    main()
