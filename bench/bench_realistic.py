"""9. Realistic agent timing: generations per run when blocks take as long as an LLM agent's.

100 runs, each of its own workflow (so every debounce firing that saw a new block writes a
revision: the worst case for scheduling), of 20 to 50 task blocks whose completions are spaced
log-normally (median 20 s, clipped to 3-120 s); 10 % of the runs fail midway (run_finished
with status "failed"). Runs start 15 s apart and overlap.

(a) In-process on a simulated clock, unscaled, default timings, against the baseline that
    regenerates after every block (bench 1's two sides), in the same run: generations per
    run, SQL statements, identical final revisions.
(b) Real `celery worker` + `celery beat` processes on a private Redis, the same stream with
    every duration (block gaps, quiet period, max wait, sweep interval, run starts) scaled
    down by --scale, published in real time: generations per run as the deployed worker
    schedules them, and the same final revisions as the baseline.

    .venv/bin/python bench/bench_realistic.py [--runs 100] [--scale 20] [--skip-live]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import bench_scheduling
from common import (
    Databases,
    Result,
    Row,
    actions_for,
    celery,
    fmt,
    redis_server,
    retime,
    stop_process,
    wait_until,
    worker_args,
    worker_env,
)
from sqlalchemy import create_engine, func, select

from config.settings import Settings
from tests.factory import RunBuilder, definition, task_block
from worker.adapters.publisher import producer_app, publish_events
from worker.adapters.sql import models as m
from worker.adapters.sql.engine import make_sessionmaker
from worker.adapters.sql.migrate import upgrade

T0 = datetime(2020, 1, 6, 9, 0, tzinfo=UTC)
ACTIONS_PER_BLOCK = 5
MEDIAN_GAP_S, SIGMA, MIN_GAP_S, MAX_GAP_S = 20.0, 0.9, 3.0, 120.0
FAILING = 0.10
RUN_SPACING_S = 15.0


def realistic_stream(runs: int, seed: int = 12) -> tuple[list[dict[str, Any]], dict[str, float]]:
    """The events in time order, and each run's length in seconds (run_started to its end);
    a failing run's id ends in "_failed"."""
    rng = random.Random(seed)
    timed: list[tuple[datetime, int, int, dict[str, Any]]] = []
    lengths: dict[str, float] = {}
    for r in range(runs):
        blocks = rng.randint(20, 50)
        labels = [f"step_{i:02d}" for i in range(blocks)]
        fails_after = rng.randint(blocks // 4, 3 * blocks // 4) if rng.random() < FAILING else None
        run_id = f"wr_real_{r:03d}" + ("" if fails_after is None else "_failed")
        builder = RunBuilder(
            run_id,
            run_id.replace("wr_", "wf_", 1),
            definition([task_block(label) for label in labels]),
        )
        for i, label in enumerate(labels):
            if fails_after is not None and i == fails_after:
                builder.block(label, status="failed", actions=actions_for(label, 2))
                break
            builder.block(label, actions=actions_for(label, ACTIONS_PER_BLOCK))
        events = builder.finish("failed" if fails_after is not None else "completed")
        now = T0 + timedelta(seconds=RUN_SPACING_S * r)
        times = [now]
        for event in events[1:]:
            gap = min(MAX_GAP_S, max(MIN_GAP_S, rng.lognormvariate(math.log(MEDIAN_GAP_S), SIGMA)))
            now += timedelta(seconds=1.0 if event["type"] == "run_finished" else gap)
            times.append(now)
        lengths[run_id] = (times[-1] - times[0]).total_seconds()
        timed += [
            (t, r, i, e) for i, (t, e) in enumerate(zip(times, retime(events, times), strict=True))
        ]
    return [e for *_, e in sorted(timed, key=lambda x: x[:3])], lengths


def same_revisions(ours: dict[Any, str], ref: dict[Any, str]) -> str:
    """Whether the final live revisions are identical, for the runs that completed (a failed
    run is never generated once it is known failed; the baseline generated after each of its
    blocks before that), and how many failed runs have a script on each side."""

    def completed(live: dict[Any, str]) -> dict[Any, str]:
        return {k: v for k, v in live.items() if not k[0].endswith("_failed")}

    failed = (
        sum(k[0].endswith("_failed") for k in ours),
        sum(k[0].endswith("_failed") for k in ref),
    )
    return (
        f"{'YES' if completed(ours) == completed(ref) else 'NO'} for the "
        f"{len(completed(ref))} completed runs (failed runs with a script: "
        f"{failed[0]} vs {failed[1]} in the baseline)"
    )


def spread(per_run: dict[str, int], runs: list[str]) -> tuple[float, float, int]:
    """Mean, p95 and max over every run (a run never generated counts 0)."""
    counts = sorted(per_run.get(run, 0) for run in runs)
    p95 = counts[min(len(counts) - 1, math.ceil(0.95 * len(counts)) - 1)]
    return statistics.mean(counts), float(p95), counts[-1]


def over_bound(per_run: dict[str, int], lengths: dict[str, float], max_wait_s: float) -> int:
    """Runs generated more than ceil(length / max wait) + 1 times."""
    return sum(
        per_run.get(run, 0) > math.ceil(length / max_wait_s) + 1 for run, length in lengths.items()
    )


def live_side(
    url: str, events: list[dict[str, Any]], scale: float, blobs: Path, logs: Path
) -> dict[str, Any]:
    """The deployed worker and beat, the stream published in real time, scaled down."""
    defaults = Settings()
    timings = {
        "SCRIPTCACHE_QUIET_S": defaults.quiet_s / scale,
        "SCRIPTCACHE_MAX_WAIT_S": defaults.max_wait_s / scale,
        "SCRIPTCACHE_SWEEP_INTERVAL_S": defaults.sweep_interval_s / scale,
    }
    engine = create_engine(url)
    upgrade(engine)
    with redis_server() as broker:
        env = {
            **worker_env(url, broker, blobs),
            "SCRIPTCACHE_LOG_FORMAT": "json",
            "SCRIPTCACHE_LEASE_S": f"{defaults.lease_s:g}",
            "SCRIPTCACHE_TASK_SOFT_TIME_LIMIT_S": f"{defaults.task_soft_time_limit_s:g}",
            "SCRIPTCACHE_TASK_TIME_LIMIT_S": f"{defaults.task_time_limit_s:g}",
            "SCRIPTCACHE_VISIBILITY_TIMEOUT_S": f"{defaults.visibility_timeout_s:g}",
            **{k: f"{v:g}" for k, v in timings.items()},
        }
        worker = celery(
            "tasks.app",
            worker_args("scriptcache.events,scriptcache.generate", 2, "real"),
            env,
            logs / "worker.log",
        )
        beat = celery(
            "tasks.app", ["beat", "--schedule", str(logs / "beat-schedule")], env, logs / "beat.log"
        )
        try:
            wait_until(
                lambda: " ready." in (logs / "worker.log").read_text(errors="replace"),
                120,
                "the worker",
            )
            app = producer_app(broker)
            start = time.monotonic()
            lags: list[float] = []
            for event in events:
                at = (datetime.fromisoformat(event["occurred_at"]) - T0).total_seconds() / scale
                delay = start + at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                lags.append(max(0.0, -delay))
                publish_events(app, [event])

            def settled() -> bool:
                with engine.connect() as conn:
                    runs = conn.scalar(
                        select(func.count())
                        .select_from(m.WorkflowRun)
                        .where(m.WorkflowRun.status.in_(["completed", "failed"]))
                    )
                    pending = conn.execute(
                        select(m.RunDebounce.workflow_run_id).where(
                            m.RunDebounce.due_at.is_not(None)
                        )
                    ).first()
                return runs == len(set(e["workflow_run_id"] for e in events)) and not pending

            wait_until(settled, 900, "every run to be generated", interval_s=0.5)
            wall_s = time.monotonic() - start
            with engine.connect() as conn:
                revisions = {
                    wpid.replace("wf_", "wr_", 1): count
                    for wpid, count in conn.execute(
                        select(m.Script.workflow_permanent_id, func.count())
                        .join(m.ScriptRevision, m.ScriptRevision.script_id == m.Script.script_id)
                        .group_by(m.Script.workflow_permanent_id)
                    )
                }
            live = bench_scheduling.live_hashes(make_sessionmaker(engine))
        finally:
            stop_process(beat, group=True)
            stop_process(worker, group=True)
            engine.dispose()
    log = (logs / "worker.log").read_text(errors="replace")
    return {
        "per_run": revisions,
        "live": live,
        "wall_s": wall_s,
        "generate_tasks": log.count('"task": "scriptcache.generate"'),
        "publish_lag_p99_s": sorted(lags)[int(0.99 * (len(lags) - 1))],
    }


def run(dbs: Databases, runs: int, scale: float, live: bool = True) -> Result:
    events, lengths = realistic_stream(runs)
    run_ids = sorted(lengths)
    defaults = Settings()
    with tempfile.TemporaryDirectory(prefix="sc-bench-") as tmp:
        ours = bench_scheduling.measure(
            bench_scheduling.run_pipeline, dbs.fresh(), events, Path(tmp, "a")
        )
        ref = bench_scheduling.measure(
            bench_scheduling.run_baseline, dbs.fresh(), events, Path(tmp, "b")
        )
        deployed = (
            live_side(dbs.fresh(), events, scale, Path(tmp, "c"), Path(tmp)) if live else None
        )
    b, name = "9 realistic timing", "regenerate on every block"
    o_mean, o_p95, o_max = spread(ours["per_run"], run_ids)
    r_mean, r_p95, r_max = spread(ref["per_run"], run_ids)
    rows = [
        Row(
            b,
            "generations per run, mean (simulated clock)",
            o_mean,
            r_mean,
            "",
            name,
            goal="≤ 1.5",
            goal_max=1.5,
        ),
        Row(b, "generations per run, p95", o_p95, r_p95, "", name),
        Row(b, "generations per run, max", o_max, r_max, "", name),
        Row(
            b,
            "SQL statements, scheduling + generation",
            ours["gen_statements"],
            ref["gen_statements"],
            "",
            name,
        ),
        Row(b, "SQL statements, total", ours["statements"], ref["statements"], "", name),
    ]
    notes = [
        f"{runs} runs of 20-50 blocks, each its own workflow, gaps log-normal (median "
        f"{MEDIAN_GAP_S:g} s, {MIN_GAP_S:g}-{MAX_GAP_S:g} s), {FAILING:.0%} failing midway; run "
        f"length mean {statistics.mean(lengths.values()):.0f} s, max "
        f"{max(lengths.values()):.0f} s. Default timings: quiet {defaults.quiet_s:g} s x "
        f"factor {defaults.quiet_factor:g}, max wait {defaults.max_wait_s:g} s. Simulated "
        f"clock: {ours['generate_tasks']} generate tasks; runs over ceil(length / max wait) + 1: "
        f"{over_bound(ours['per_run'], lengths, defaults.max_wait_s)}; final live revisions "
        f"identical to the baseline's: {same_revisions(ours['live'], ref['live'])}."
    ]
    if deployed is not None:
        d_mean, d_p95, d_max = spread(deployed["per_run"], run_ids)
        rows += [
            Row(
                b,
                f"generations per run, mean (real worker, time / {scale:g})",
                d_mean,
                r_mean,
                "",
                name,
                goal="≤ 1.5",
                goal_max=1.5,
            ),
            Row(b, "generations per run, p95 (real worker)", d_p95, r_p95, "", name),
            Row(b, "generations per run, max (real worker)", d_max, r_max, "", name),
        ]
        notes.append(
            f"Real worker + beat, every duration divided by {scale:g} (quiet "
            f"{defaults.quiet_s / scale:g} s, max wait {defaults.max_wait_s / scale:g} s, sweep "
            f"{defaults.sweep_interval_s / scale:g} s): {deployed['generate_tasks']} generate "
            f"tasks in {deployed['wall_s']:.0f} s; runs over the bound: "
            f"{over_bound(deployed['per_run'], lengths, defaults.max_wait_s)}; publishing lag "
            f"p99 {deployed['publish_lag_p99_s']:.2f} s; final live revisions identical to the "
            f"baseline's: {same_revisions(deployed['live'], ref['live'])}."
        )
    series = {
        "baseline": [ref["per_run"].get(r, 0) for r in run_ids],
        "simulated": [ours["per_run"].get(r, 0) for r in run_ids],
        "live": [] if deployed is None else [deployed["per_run"].get(r, 0) for r in run_ids],
    }
    return Result(rows=rows, notes=notes, series={"realistic": series})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument("--skip-live", action="store_true")
    args = parser.parse_args()
    dbs = Databases()
    try:
        result = run(dbs, args.runs, args.scale, live=not args.skip_live)
    finally:
        dbs.drop_all()
    for r in result.rows:
        print(f"{r.metric}: {fmt(r.value)} vs {fmt(r.baseline)}")
    print(*result.notes, sep="\n")


if __name__ == "__main__":
    main()
