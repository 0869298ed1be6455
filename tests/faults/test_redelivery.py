"""Every event delivered three times, in shuffled order (at-least-once, out of order)."""

from __future__ import annotations

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
from tests.support.stack import Stack, local_store, wait_ready


def test_each_event_three_times_in_shuffled_order_gives_the_oracles_scripts(
    fault_stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = seeded("redelivery", capsys)
    stack, store = fault_stack, local_store(fault_stack)
    tally = Tally("3x delivery, shuffled")
    stack.start_beat()
    wait_ready(stack, stack.start_worker())
    for trial in range(trial_count(2)):
        workload = disjoint_workload(f"d{trial}", rng, workflows=3, labels=3)
        expected = oracle(workload, tmp_path / f"oracle-{trial}")
        events = workload.interleaved() * 3
        rng.shuffle(events)
        stack.publish(events)
        tally.add(trial, await_recovery(stack, store, workload, expected))
    tally.report(capsys)
