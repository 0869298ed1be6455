"""The worker's Redis pub/sub connection (remote control: Flower's worker pages, `celery
inspect`) killed while work is in flight: the worker reconnects, subscribes again and goes on
taking tasks (config/redis_transport.py; before it, the worker stopped consuming for good).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis
from celery import Celery

from tests.faults.harness import (
    Tally,
    await_recovery,
    disjoint_workload,
    oracle,
    seeded,
    trial_count,
)
from tests.support.stack import Stack, local_store, wait_ready, wait_until


def pubsub_clients(client: redis.Redis) -> int:
    return sum(1 for c in client.client_list() if int(c.get("psub", 0)) or int(c.get("sub", 0)))


def answers_ping(broker_url: str) -> bool:
    control = Celery(broker=broker_url)
    try:
        return bool(control.control.ping(timeout=2.0))
    finally:
        control.close()


def test_killed_pubsub_connections_do_not_stop_the_worker(
    fault_stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = seeded("pubsub", capsys)
    stack, store = fault_stack, local_store(fault_stack)
    url = stack.env["SCRIPTCACHE_BROKER_URL"]
    tally = Tally("pub/sub connections killed")
    stack.start_beat()
    worker = stack.start_worker()
    wait_ready(stack, worker)
    with redis.Redis.from_url(url) as client:
        for trial in range(trial_count(2)):
            workload = disjoint_workload(f"ps{trial}", rng, workflows=3, labels=3)
            expected = oracle(workload, tmp_path / f"oracle-{trial}")
            events = workload.interleaved()
            cut = rng.randrange(1, len(events))
            wait_until(lambda: pubsub_clients(client) > 0, 30, "the worker's subscription", stack)
            stack.publish(events[:cut])
            time.sleep(rng.uniform(0.0, 1.0))
            killed = client.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
            assert killed >= 1, "the worker had no pub/sub connection: no fault"
            stack.publish(events[cut:])
            tally.add(trial, await_recovery(stack, store, workload, expected))
            assert worker.poll() is None
            wait_until(lambda: answers_ping(url), 60, "the worker to answer remote control", stack)
    tally.report(capsys)
