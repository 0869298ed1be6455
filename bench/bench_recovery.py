"""10. Recovery: seconds from a SIGKILL of the whole worker group mid-generation to the run's
revision being live, with the default timings (lease 30 s, renewed every 10 s; sweep 5 s).

Each trial: a worker (prefork -c 2) and beat run; a run's first revision is generated; then
its script row is locked from outside so that the next generation (block two + run_finished)
blocks inside its transaction, holding the lease and renewing it; after a random 0-15 s the
worker's process group is SIGKILLed, the lock released and a new worker started at once (what
a supervisor does). The clock stops when the revision with block two is live.

    .venv/bin/python bench/bench_recovery.py [--trials 10]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    Databases,
    Result,
    Row,
    celery,
    fmt,
    percentile,
    redis_server,
    stop_process,
    wait_until,
    worker_args,
    worker_env,
)
from sqlalchemy import Engine, create_engine, func, select, text

from config.settings import Settings
from tests.factory import RunBuilder, definition, task_block
from worker.adapters.publisher import producer_app, publish_events
from worker.adapters.sql import models as m
from worker.adapters.sql.migrate import upgrade


def default_env(url: str, broker: str, blobs: Path) -> dict[str, str]:
    d = Settings()
    return {
        **worker_env(url, broker, blobs),
        "SCRIPTCACHE_LOG_FORMAT": "json",
        **{
            f"SCRIPTCACHE_{name.upper()}": f"{getattr(d, name):g}"
            for name in (
                "quiet_s",
                "max_wait_s",
                "lease_s",
                "sweep_interval_s",
                "task_time_limit_s",
                "task_soft_time_limit_s",
                "visibility_timeout_s",
                "max_retries",
                "retry_backoff_max_s",
                "run_start_wait_s",
            )
        },
    }


def live_version(engine: Engine, wpid: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.coalesce(func.max(m.ScriptRevision.version), 0))
                .join(m.Script)
                .where(m.Script.workflow_permanent_id == wpid)
            )
            or 0
        )


def blocked(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()"
                )
            )
        )


def trial(i: int, engine: Engine, env: dict[str, str], logs: Path, rng: random.Random) -> float:
    worker = celery(
        "tasks.app",
        worker_args("scriptcache.events,scriptcache.generate", 2, f"rec{i}"),
        env,
        logs / f"worker-{i}.log",
    )
    replacement = None
    try:
        wait_until(
            lambda: " ready." in (logs / f"worker-{i}.log").read_text(errors="replace"),
            120,
            "the worker",
        )
        app = producer_app(env["SCRIPTCACHE_BROKER_URL"])
        wpid = f"wf_rec_{i}"
        run = RunBuilder(f"wr_rec_{i}", wpid, definition([task_block("one"), task_block("two")]))
        run.block("one")
        publish_events(app, run.events)
        wait_until(lambda: live_version(engine, wpid) == 1, 60, "the first revision")
        holder = engine.connect()
        transaction = holder.begin()
        try:
            holder.execute(
                text("SELECT 1 FROM scripts WHERE workflow_permanent_id = :w FOR UPDATE"),
                {"w": wpid},
            )
            run.block("two")
            publish_events(app, [run.events[-1], run.finish()[-1]])
            wait_until(lambda: blocked(engine), 60, "the generation to block")
            time.sleep(rng.uniform(0, 15))
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            killed = time.monotonic()
        finally:
            transaction.rollback()
            holder.close()
        replacement = celery(
            "tasks.app",
            worker_args("scriptcache.events,scriptcache.generate", 2, f"rec{i}b"),
            env,
            logs / f"worker-{i}b.log",
        )
        live = wait_until(lambda: live_version(engine, wpid) == 2, 180, "recovery", interval_s=0.2)
        return live - killed
    finally:
        for proc in (worker, replacement):
            if proc is not None:
                stop_process(proc, group=True)


def run(dbs: Databases, trials: int) -> Result:
    url = dbs.fresh()
    engine = create_engine(url)
    upgrade(engine)
    seconds: list[float] = []
    rng = random.Random(8)
    with redis_server() as broker, tempfile.TemporaryDirectory(prefix="sc-bench-") as tmp:
        env = default_env(url, broker, Path(tmp, "blobs"))
        beat = celery(
            "tasks.app",
            ["beat", "--schedule", str(Path(tmp, "beat-schedule"))],
            env,
            Path(tmp, "beat.log"),
        )
        try:
            for i in range(trials):
                seconds.append(trial(i, engine, env, Path(tmp), rng))
                print(f"trial {i + 1}: {seconds[-1]:.1f} s", flush=True)
        finally:
            stop_process(beat, group=True)
    engine.dispose()
    d = Settings()
    b, name = "10 recovery", f"lease + sweep ({d.lease_s:g} + {d.sweep_interval_s:g} s)"
    bound = d.lease_s + d.sweep_interval_s
    rows = [
        Row(b, "SIGKILL → revision live, p50", statistics.median(seconds), bound, "s", name),
        Row(
            b,
            "SIGKILL → revision live, p99",
            percentile(seconds, 99),
            bound,
            "s",
            name,
            goal="< 45 s",
            goal_max=45.0,
        ),
    ]
    notes = [
        f"{trials} trials, the worker group SIGKILLed 0-15 s into a blocked generation and "
        f"a new worker started at once; each: {', '.join(f'{s:.1f}' for s in seconds)} s. "
        f"Defaults: lease {d.lease_s:g} s renewed every {d.heartbeat_s:g} s, sweep every "
        f"{d.sweep_interval_s:g} s. Before the heartbeat the lease was 300 s."
    ]
    return Result(
        rows=rows, notes=notes, series={"recovery": {"seconds": seconds, "bound_s": bound}}
    )


def main(argv: Any = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=10)
    args = parser.parse_args(argv)
    dbs = Databases()
    try:
        result = run(dbs, args.trials)
    finally:
        dbs.drop_all()
    for r in result.rows:
        print(f"{r.metric}: {fmt(r.value)} {r.unit} (bound {fmt(r.baseline)})")
    print(*result.notes, sep="\n")


if __name__ == "__main__":
    main()
