"""5. Latency from run_finished to the committed revision, through real worker processes.

A `celery worker` (prefork -c 2, both queues) and `celery beat` run with the short timings of
tests/e2e (quiet period 1 s). For each run (its own workflow, 5 task blocks x 20 actions):
publish run_started and the blocks, wait until they are recorded, publish run_finished and
poll PostgreSQL every 10 ms until a revision of the workflow is committed and the debounce
record is clear. Baseline: in the same poll, the moment the run_finished event itself is
recorded (intake only), the floor under any generation.

    .venv/bin/python bench/bench_latency.py [--runs 200]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import (
    Databases,
    Result,
    Row,
    celery,
    linear_events,
    percentile,
    run_standalone,
    stop_process,
    wait_until,
    worker_args,
    worker_env,
)
from sqlalchemy import create_engine, text

from worker.adapters.publisher import producer_app, publish_events

STATE = text("""
SELECT r.status,
       (SELECT count(*) FROM workflow_run_blocks b WHERE b.workflow_run_id = :r) AS blocks,
       (SELECT d.due_at IS NULL AND d.generations > 0 FROM run_debounce d
         WHERE d.workflow_run_id = :r) AS settled,
       (SELECT count(*) FROM script_revisions v JOIN scripts s USING (script_id)
         WHERE s.workflow_permanent_id = :w) AS revisions
FROM workflow_runs r WHERE r.workflow_run_id = :r""")
BLOCKS = 5


def run(dbs: Databases, broker_url: str, runs: int) -> Result:
    url = dbs.fresh()
    engine = create_engine(url)
    producer = producer_app(broker_url)
    revision_s: list[float] = []
    intake_s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="sc-bench-") as tmp:
        env = worker_env(url, broker_url, Path(tmp, "blobs"))
        procs = [
            celery(
                "tasks.app",
                worker_args("scriptcache.events,scriptcache.generate", 2, "latency"),
                env,
                Path(tmp, "worker.log"),
            ),
            celery(
                "tasks.app",
                ["beat", "--schedule", str(Path(tmp, "beat"))],
                env,
                Path(tmp, "beat.log"),
            ),
        ]
        try:
            with engine.connect() as conn:

                def state(run_id: str, wpid: str) -> tuple[str, int, bool, int]:
                    row = conn.execute(STATE, {"r": run_id, "w": wpid}).one_or_none()
                    conn.rollback()
                    return ("", 0, False, 0) if row is None else tuple(row)  # type: ignore[return-value]

                for i in range(runs):
                    run_id, wpid = f"wr_lat_{i:04d}", f"wf_lat_{i:04d}"
                    events = linear_events(run_id, wpid, BLOCKS, 20)
                    publish_events(producer, events[:-1])
                    wait_until(
                        lambda r=run_id, w=wpid: state(r, w)[1] == BLOCKS,
                        60,
                        f"the blocks of {run_id}",
                        interval_s=0.01,
                    )
                    published = time.monotonic()
                    publish_events(producer, events[-1:])
                    recorded = None
                    while True:
                        status, _, settled, revisions = state(run_id, wpid)
                        now = time.monotonic()
                        if recorded is None and status == "completed":
                            recorded = now
                        if recorded is not None and settled and revisions:
                            break
                        if now - published > 60:
                            raise RuntimeError(f"{run_id}: no revision after 60 s")
                        time.sleep(0.01)
                    intake_s.append(recorded - published)
                    revision_s.append(now - published)
        finally:
            for proc in procs:
                stop_process(proc, group=True)
    engine.dispose()
    b, name = "5 latency", "run_finished recorded (intake only)"
    rows = [
        Row(
            b,
            f"run_finished → committed revision, p{q}",
            percentile(revision_s, q) * 1000,
            percentile(intake_s, q) * 1000,
            "ms",
            name,
        )
        for q in (50, 99)
    ]
    return Result(
        rows=rows,
        notes=[
            f"{runs} runs through a real worker (prefork -c 2) and beat, quiet period 1 s, "
            f"polled every 10 ms (adds up to ~10 ms); max {max(revision_s) * 1000:.0f} ms."
        ],
        series={"latency": {"revision": revision_s, "intake": intake_s}},
    )


def main() -> None:
    run_standalone(run, __doc__, "runs", 200)


if __name__ == "__main__":
    main()
