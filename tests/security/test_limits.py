"""Limits: an oversized event is dead-lettered with the reason; a run of 10,000 blocks is
generated within the worker's time limit."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from sqlalchemy import select

from tests.factory import RunBuilder, definition, linear_run, task_block
from tests.support.stack import Stack, all_logs, live_labels, wait_until
from worker.adapters.sql import models as m

MAX_EVENT_BYTES = 200_000


def test_an_event_over_the_size_limit_is_dead_lettered_with_the_reason(sec_stack: Stack) -> None:
    events = linear_run("wr_big_event", "wf_big_event", ["a"])
    events[1]["actions"][0]["reasoning"] = "r" * (MAX_EVENT_BYTES + 1)
    small = linear_run("wr_small", "wf_small", ["b"])
    sec_stack.env["SCRIPTCACHE_MAX_EVENT_BYTES"] = str(MAX_EVENT_BYTES)
    sec_stack.start_worker()
    sec_stack.publish([*events, *small])
    wait_until(lambda: live_labels(sec_stack, "wf_small") == {"b"}, 60, "the small run", sec_stack)
    wait_until(
        lambda: sec_stack.scalar(select(m.DeadLetter.error)) is not None,
        30,
        "the dead letter",
        sec_stack,
    )
    with sec_stack.sessions() as session:
        entries = session.scalars(select(m.DeadLetter)).all()
    assert [e.event_id for e in entries] == [events[1]["event_id"]]
    assert "SCRIPTCACHE_MAX_EVENT_BYTES" in entries[0].error
    assert f"over the limit of {MAX_EVENT_BYTES}" in entries[0].error
    assert live_labels(sec_stack, "wf_big_event") == set(), "the oversized block was recorded"


@pytest.mark.campaign  # make test-campaigns (CI), not make test: see the Makefile
def test_a_run_of_ten_thousand_blocks_is_generated_within_the_time_limit(
    sec_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    blocks = 10_000
    labels = [f"b_{i:05d}" for i in range(blocks)]
    run = RunBuilder("wr_huge", "wf_huge", definition([task_block(label) for label in labels]))
    for label in labels:
        run.block(label, actions=1)
    events = run.finish()
    time_limit_s = 120
    # Only run_finished makes it due (no intermediate generations of a growing run).
    sec_stack.env.update(
        {
            "SCRIPTCACHE_QUIET_S": "60",
            "SCRIPTCACHE_MAX_WAIT_S": "900",
            "SCRIPTCACHE_TASK_SOFT_TIME_LIMIT_S": str(time_limit_s - 20),
            "SCRIPTCACHE_TASK_TIME_LIMIT_S": str(time_limit_s),
            "SCRIPTCACHE_LEASE_S": str(time_limit_s + 30),
            "SCRIPTCACHE_VISIBILITY_TIMEOUT_S": "1200",
        }
    )
    sec_stack.start_beat()
    sec_stack.start_worker()
    started = time.monotonic()
    sec_stack.publish(events)
    wait_until(
        lambda: live_labels(sec_stack, "wf_huge") == set(labels),
        900,
        "the 10,000-block run to be generated",
        sec_stack,
    )
    total_s = time.monotonic() - started

    def generated_lines() -> list[dict[str, Any]]:
        return [
            json.loads(line)
            for line in all_logs(sec_stack).splitlines()
            if line.startswith("{")
            and '"scriptcache.generate"' in line
            and '"result": "generated"' in line
        ]

    # The outcome line follows the commit: on a loaded machine the revision is live a moment
    # before the line is in the log.
    wait_until(lambda: bool(generated_lines()), 60, "the generation's outcome line", sec_stack)
    generated = generated_lines()
    duration_s = max(g["duration_ms"] for g in generated) / 1000
    with capsys.disabled():
        print(
            f"\n[limits] {blocks} blocks, {len(json.dumps(events[0])):,} bytes of definition: "
            f"generation took {duration_s:.1f} s (time limit {time_limit_s} s), "
            f"{total_s:.0f} s from publish to live revision",
            flush=True,
        )
    assert duration_s < time_limit_s
    assert not re.search(r"TimeLimitExceeded|WorkerLostError", all_logs(sec_stack))
