"""A message taken off the queue that never reaches a worker (a BRPOP whose reply was lost
in a connection reset) comes back after the visibility timeout: publishing registers every
message as unacknowledged (config/redis_transport.py).

The loss is made exact here: the test takes a message off the queue itself, as the server
does for a BRPOP whose reply never arrives, before any worker runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from config.celery import EVENTS_QUEUE
from tests.faults.harness import (
    Tally,
    await_recovery,
    disjoint_workload,
    oracle,
    seeded,
    trial_count,
)
from tests.support.stack import Stack, local_store, wait_until


def test_a_message_taken_off_the_queue_but_never_delivered_comes_back(
    fault_stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = seeded("lost-delivery", capsys)
    stack, store = fault_stack, local_store(fault_stack)
    tally = Tally("message taken off the queue, never delivered")
    stack.start_beat()
    worker = None
    with redis.Redis.from_url(stack.env["SCRIPTCACHE_BROKER_URL"]) as client:
        for trial in range(trial_count(1)):
            workload = disjoint_workload(f"ld{trial}", rng, workflows=2, labels=2)
            expected = oracle(workload, tmp_path / f"oracle-{trial}")
            events = workload.interleaved()
            stack.publish(events)
            queued = client.lrange(EVENTS_QUEUE, 0, -1)
            index = rng.randrange(len(queued))
            taken = queued[index]
            assert client.lrem(EVENTS_QUEUE, 1, taken) == 1  # gone from the queue, as by BRPOP
            tag = json.loads(taken)["properties"]["delivery_tag"]
            assert client.hexists("unacked", tag), "publishing did not register the message"
            if worker is None:
                worker = stack.start_worker()
            tally.add(trial, await_recovery(stack, store, workload, expected))
            assert worker.poll() is None
        wait_until(lambda: client.hlen("unacked") == 0, 30, "every message acked", stack)
        time.sleep(0.5)
    tally.report(capsys)
