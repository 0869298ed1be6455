"""Redis restarted empty (or flushed) while generation work is pending: the sweeper recovers.

Events are intake-recorded before Redis goes: messages that never reached the worker are
gone with an emptied Redis by design (the producer still owns them). What is recorded in
PostgreSQL (the debounce records) must all be generated anyway.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from tests.faults.harness import (
    Tally,
    Workload,
    await_recovery,
    disjoint_workload,
    oracle,
    seeded,
    trial_count,
)
from tests.support.services import free_port, stop, wait_for_port
from tests.support.stack import Stack, flush, local_store, wait_ready, wait_until
from worker.adapters.sql import models as m


class RedisServer:
    """A private redis-server without persistence that the test may kill and restart."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is required on PATH"
        self.binary, self.port = binary, free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    if server.proc is not None:
        stop(server.proc)


def recorded(stack: Stack, workload: Workload) -> bool:
    """Every event of the workload went through intake (3 events per run)."""
    done = stack.scalar(
        select(func.count())
        .select_from(m.RunDebounce)
        .where(m.RunDebounce.workflow_run_id.in_(list(workload.runs)), m.RunDebounce.seq >= 3)
    )
    return int(done) == len(workload.runs)


def test_an_emptied_redis_with_pending_generations_is_recovered_by_the_sweeper(
    fault_stack: Stack,
    private_redis: RedisServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = seeded("redis", capsys)
    stack, store = fault_stack, local_store(fault_stack)
    stack.env["SCRIPTCACHE_BROKER_URL"] = private_redis.url
    tally = Tally("redis restarted empty")
    stack.start_beat()
    for trial in range(trial_count(2)):
        workload = disjoint_workload(f"r{trial}", rng, workflows=4, labels=3)
        expected = oracle(workload, tmp_path / f"oracle-{trial}")
        # Intake only: the generation requests pile up in Redis.
        intake = stack._spawn(
            "worker",
            [
                "worker",
                "-Q",
                "scriptcache.events",
                "-c",
                "2",
                "-n",
                f"intake{trial}@%h",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
        )
        stack.publish(workload.interleaved())
        wait_until(lambda w=workload: recorded(stack, w), 60, "intake of every event", stack)
        os.killpg(intake.pid, signal.SIGTERM)  # warm shutdown: its last acks are sent
        intake.wait(30)
        with redis.Redis.from_url(private_redis.url) as client:
            queued = client.llen("scriptcache.generate")
        assert queued > 0, "no generation request was pending in Redis"
        worker = stack.start_worker()
        wait_ready(stack, worker)
        time.sleep(rng.uniform(0.0, 1.5))  # some generations done, some pending
        if rng.random() < 0.5:
            private_redis.kill()
            private_redis.start()
        else:
            flush(private_redis.url)
        tally.add(trial, await_recovery(stack, store, workload, expected))
        assert worker.poll() is None, "the worker died with Redis"
        stack.kill(worker)
    tally.report(capsys)
