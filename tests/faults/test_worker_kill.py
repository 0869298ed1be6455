"""SIGKILL of the whole worker process group at random moments while events flow."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.faults.harness import (
    Tally,
    await_recovery,
    disjoint_workload,
    oracle,
    seeded,
    trial_count,
)
from tests.support.stack import FAULT_ENV, Stack, local_store, wait_ready

# A killed worker's unacked messages go back to their queue when a worker starts and finds
# them older than the visibility timeout (kombu restores them at start, then only every
# ~100 s): restart after it, as a supervisor with a restart delay would.
RESTART_AFTER_S = float(FAULT_ENV["SCRIPTCACHE_VISIBILITY_TIMEOUT_S"]) + 0.5


@pytest.mark.campaign  # make test-campaigns (CI), not make test: see the Makefile
def test_sigkill_of_the_worker_at_random_moments_loses_nothing(
    fault_stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = seeded("sigkill", capsys)
    stack, store = fault_stack, local_store(fault_stack)
    tally = Tally("sigkill worker")
    stack.start_beat()
    worker = stack.start_worker()
    wait_ready(stack, worker)
    for trial in range(trial_count(3)):
        workload = disjoint_workload(f"k{trial}", rng, workflows=3, labels=3)
        expected = oracle(workload, tmp_path / f"oracle-{trial}")
        stack.publish(workload.interleaved())
        for _ in range(rng.randint(1, 2)):
            time.sleep(rng.uniform(0.0, 2.5))  # before, during or after intake/generation
            stack.kill(worker)
            time.sleep(RESTART_AFTER_S)
            worker = stack.start_worker()
        tally.add(trial, await_recovery(stack, store, workload, expected))
        assert worker.poll() is None
    tally.report(capsys)
