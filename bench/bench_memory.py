"""6. Worker resident memory while feeding many events.

A `celery worker` (prefork -c 2, both queues, so intake and generation) and `celery beat` run
with the e2e timings. Runs of 50 task blocks x 20 actions, over 20 workflows, are published in
chunks (at most ~1,000 waiting); VmRSS of the worker's main process and pool children
(/proc/<pid>/status) is sampled as the events are consumed. Baseline: the RSS at 10 % of the
events, so the ratio shows growth after warm-up.

    .venv/bin/python bench/bench_memory.py [--events 100000]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import redis
from common import (
    Databases,
    Result,
    Row,
    celery,
    linear_events,
    rss_kb,
    run_standalone,
    stop_process,
    wait_until,
    worker_args,
    worker_env,
)

from config.celery import EVENTS_QUEUE, GENERATE_QUEUE
from worker.adapters.publisher import producer_app, publish_events

BACKLOG = 1_000


def run(dbs: Databases, broker_url: str, count: int) -> Result:
    url = dbs.fresh()
    client = redis.Redis.from_url(broker_url)
    client.flushdb()
    producer = producer_app(broker_url)
    samples: list[tuple[int, float]] = []  # (events consumed, RSS MiB)
    published = r = 0
    with tempfile.TemporaryDirectory(prefix="sc-bench-") as tmp:
        env = worker_env(url, broker_url, Path(tmp, "blobs"))
        worker = celery(
            "tasks.app",
            worker_args(f"{EVENTS_QUEUE},{GENERATE_QUEUE}", 2, "memory"),
            env,
            Path(tmp, "worker.log"),
        )
        beat = celery(
            "tasks.app", ["beat", "--schedule", str(Path(tmp, "beat"))], env, Path(tmp, "beat.log")
        )
        try:
            started = time.monotonic()
            next_sample = 0.0
            while True:
                waiting = client.llen(EVENTS_QUEUE)
                if published < count and waiting < BACKLOG:
                    batch = linear_events(f"wr_mem_{r:05d}", f"wf_mem_{r % 20}", 50, 20)
                    batch = batch[: count - published]
                    publish_events(producer, batch)
                    published, r = published + len(batch), r + 1
                    continue
                if time.monotonic() >= next_sample:
                    consumed = published - waiting
                    rss = rss_kb(worker.pid) / 1024
                    samples.append((consumed, rss))
                    next_sample = time.monotonic() + 0.5
                if published >= count and waiting == 0:
                    break
                time.sleep(0.05)
            wait_until(
                lambda: client.llen(GENERATE_QUEUE) == 0 and client.hlen("unacked") == 0,
                600,
                "the worker to finish",
            )
            elapsed_s = time.monotonic() - started
            samples.append((count, rss_kb(worker.pid) / 1024))
        finally:
            stop_process(beat, group=True)
            stop_process(worker, group=True)

    def at(fraction: float) -> float:
        return next(rss for n, rss in samples if n >= fraction * count)

    base = at(0.1)
    b, name = "6 memory", "RSS at 10 %"
    rows = [
        Row(
            b,
            f"worker RSS at {int(f * 100)} % of {count:,} events",
            at(f),
            base,
            "MiB",
            name,
            goal="steady",
        )
        for f in (0.1, 0.5, 1.0)
    ]
    return Result(
        rows=rows,
        notes=[
            f"prefork -c 2 (main + 2 children), {count:,} events in {elapsed_s:.0f} s "
            f"({count / elapsed_s:.0f} events/s with generation), first sample {samples[0][1]:.0f} "
            f"MiB, peak {max(s for _, s in samples):.0f} MiB."
        ],
        series={"memory": samples},
    )


def main() -> None:
    run_standalone(run, __doc__, "events", 100_000)


if __name__ == "__main__":
    main()
