"""2. Intake throughput of ONE real worker process vs a no-op Celery task.

N realistic events (runs of 50 task blocks, 20 actions per block) are published to a private
Redis first; then a worker is started (`celery worker -P prefork -c 1 -Q scriptcache.events`)
and timed from the first message it takes until the queue is drained and every message acked.
Baseline: bench/noop_app.py, the same task names, queue and Celery options with empty task
bodies, started the same way on the same Redis with the same messages.

    .venv/bin/python bench/bench_intake.py [--events 10000]
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import redis
from common import (
    Databases,
    Result,
    Row,
    celery,
    drained,
    fmt,
    linear_events,
    rss_kb,
    run_standalone,
    stop_process,
    wait_until,
    worker_args,
    worker_env,
)
from sqlalchemy import create_engine, func, select

from config.celery import EVENTS_QUEUE
from worker.adapters.publisher import producer_app, publish_events
from worker.adapters.sql import models as m

EVENTS_PER_RUN = 52  # run_started, 50 blocks, run_finished


def make_events(count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for r in range(max(1, count // EVENTS_PER_RUN)):
        events += linear_events(f"wr_intake_{r:05d}", f"wf_intake_{r % 10}", 50, 20)
    return events


def drain(
    app: str, events: list[dict[str, Any]], broker_url: str, env: dict[str, str], log: Path
) -> dict[str, float]:
    """Publish, then start one worker process and time it until the queue is empty."""
    client = redis.Redis.from_url(broker_url)
    client.flushdb()
    started = time.perf_counter()
    publish_events(producer_app(broker_url), events)
    publish_s = time.perf_counter() - started
    total = client.llen(EVENTS_QUEUE)
    spawned = time.monotonic()
    proc = celery(app, worker_args(EVENTS_QUEUE, 1, app.replace(".", "-")), env, log)
    try:
        first = wait_until(
            lambda: client.llen(EVENTS_QUEUE) < total,
            120,
            "the worker's first message",
            interval_s=0.005,
        )
        done = wait_until(
            lambda: drained(client, EVENTS_QUEUE), 3600, "the queue to drain", interval_s=0.02
        )
        rss = rss_kb(proc.pid)
    finally:
        stop_process(proc, group=True)
    return {
        "rate": (total - 1) / (done - first),
        "rate_with_start": total / (done - spawned),
        "publish_rate": total / publish_s,
        "rss_kib": rss,
        "messages": total,
    }


def run(dbs: Databases, broker_url: str, count: int) -> Result:
    events = make_events(count)
    blocks = sum(e["type"] == "block_completed" for e in events)
    size_b = sum(len(json.dumps(e)) for e in events) / len(events)
    url = dbs.fresh()
    with tempfile.TemporaryDirectory(prefix="sc-bench-") as tmp:
        env = worker_env(url, broker_url, Path(tmp, "blobs"))
        noop = drain("noop_app", events, broker_url, env, Path(tmp, "noop.log"))
        ours = drain("tasks.app", events, broker_url, env, Path(tmp, "worker.log"))
    engine = create_engine(url)
    with engine.connect() as conn:
        recorded = conn.scalar(select(func.count()).select_from(m.WorkflowRunBlock))
    engine.dispose()
    b, name = "2 intake", "no-op task"
    return Result(
        rows=[
            Row(
                b,
                "events/s, one worker process (start excluded)",
                ours["rate"],
                noop["rate"],
                "/s",
                name,
                better="higher",
                goal="≥ 0.5x no-op",
                goal_min=0.5,
            ),
            Row(
                b,
                "events/s, worker start included",
                ours["rate_with_start"],
                noop["rate_with_start"],
                "/s",
                name,
                better="higher",
            ),
            Row(
                b,
                "worker RSS after draining (main + child)",
                ours["rss_kib"] / 1024,
                noop["rss_kib"] / 1024,
                "MiB",
                name,
            ),
        ],
        notes=[
            f"{len(events):,} events ({blocks:,} blocks x 20 actions, mean {size_b / 1024:.1f} KiB "
            f"JSON), prefork -c 1, queue scriptcache.events only (wake-ups accumulate unconsumed on "
            f"scriptcache.generate); blocks recorded: {recorded:,} of {blocks:,}. Publishing ran "
            f"at {fmt(ours['publish_rate'])} and {fmt(noop['publish_rate'])} messages/s."
        ],
        series={"intake": {"scriptcache": ours["rate"], "no-op": noop["rate"]}},
    )


def main() -> None:
    run_standalone(run, __doc__, "events", 10_000)


if __name__ == "__main__":
    main()
