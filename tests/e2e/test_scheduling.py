"""Scheduling under real timing (issue 12): debounce windows that restart after a generation,
a quiet period fitted to the run's cadence, and a short lease kept alive by a heartbeat.

Real `celery worker` and `celery beat` processes, real Redis and PostgreSQL."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.e2e.test_operations import flower_get, running_flower
from tests.e2e.test_worker import lock_script_row, waiting_on_lock
from tests.factory import RunBuilder, definition, linear_run, task_block
from tests.support.stack import Stack, live_labels, wait_until


def steady_run(run_id: str, blocks: int) -> RunBuilder:
    labels = [f"step_{i:02d}" for i in range(blocks)]
    return RunBuilder(run_id, f"wf_{run_id}", definition([task_block(label) for label in labels]))


def test_a_steady_stream_of_thirty_blocks_gets_at_most_one_revision_per_max_wait(
    stack: Stack,
) -> None:
    """30 blocks 0.5 s apart (15 s), quiet 1 s, max wait 4 s: at most ceil(15 / 4) + 1 = 5."""
    run = steady_run("wr_steady", 30)
    stack.start_worker()
    stack.wait_ready()
    stack.publish(run.events)  # run_started
    started = time.monotonic()
    for i in range(30):
        run.block(f"step_{i:02d}")
        stack.publish(run.events[-1:])
        time.sleep(max(0.0, started + 0.5 * (i + 1) - time.monotonic()))
    stack.publish(run.finish()[-1:])
    duration_s = time.monotonic() - started
    wait_until(lambda: stack.settled("wr_steady"), 30, "the last generation", stack)
    time.sleep(2)
    revisions = stack.revisions("wf_wr_steady")
    assert 1 <= revisions <= math.ceil(duration_s / 4) + 1, (revisions, duration_s)
    assert live_labels(stack, "wf_wr_steady") == {f"step_{i:02d}" for i in range(30)}


def test_a_slow_agent_is_generated_once_at_run_finished_not_after_each_block(
    stack: Stack,
) -> None:
    """Blocks 2.5 s apart (longer than the 1 s quiet period, far below the 60 s max wait):
    the quiet period fits the cadence, so nothing is generated until run_finished."""
    stack.env["SCRIPTCACHE_MAX_WAIT_S"] = "60"
    run = steady_run("wr_agent", 6)
    stack.start_worker()
    stack.start_beat()
    stack.wait_ready()
    stack.publish(run.events)
    for i in range(6):
        time.sleep(2.5)
        run.block(f"step_{i:02d}")
        stack.publish(run.events[-1:])
    time.sleep(2.5)
    assert stack.revisions("wf_wr_agent") == 0, "generated before run_finished"
    stack.publish(run.finish()[-1:])
    wait_until(lambda: stack.revisions("wf_wr_agent") >= 1, 20, "the revision", stack)
    time.sleep(3)
    assert stack.revisions("wf_wr_agent") == 1
    assert stack.settled("wr_agent")


@pytest.mark.campaign  # waits out the default lease (45 s): make test-campaigns (CI)
def test_a_worker_killed_mid_generation_is_recovered_within_the_default_lease_and_a_sweep(
    stack: Stack,
) -> None:
    stack.env.update(
        {
            "SCRIPTCACHE_LEASE_S": "30",  # the default
            # long enough that the blocked generation is not ended by its limit
            "SCRIPTCACHE_TASK_SOFT_TIME_LIMIT_S": "35",
            "SCRIPTCACHE_TASK_TIME_LIMIT_S": "40",
        }
    )
    lease_s, sweep_s = 30.0, float(stack.env["SCRIPTCACHE_SWEEP_INTERVAL_S"])
    run = RunBuilder("wr_dead", "wf_dead", definition([task_block("one"), task_block("two")]))
    run.block("one")
    worker = stack.start_worker()
    beat = stack.start_beat()
    stack.wait_ready()
    stack.publish(run.events)
    wait_until(lambda: stack.settled("wr_dead"), 20, "the first generation", stack)
    holder = lock_script_row(stack, "wf_dead")
    try:
        run.block("two")
        two = run.events[-1]
        stack.publish([two, run.finish()[-1]])
        wait_until(lambda: waiting_on_lock(stack), 20, "the second generation to block", stack)
        time.sleep(12)  # past a heartbeat or more: the lease has been renewed meanwhile
        stack.kill(worker)
        stack.kill(beat)
        killed = time.monotonic()
    finally:
        holder.rollback()
        holder.close()
    stack.start_worker()
    stack.start_beat()
    wait_until(
        lambda: live_labels(stack, "wf_dead") == {"one", "two"},
        lease_s + sweep_s + 30,
        "recovery",
        stack,
    )
    recovered_s = time.monotonic() - killed
    assert recovered_s <= lease_s + sweep_s + 8, f"recovered after {recovered_s:.1f} s"
    assert stack.revisions("wf_dead") == 2


def test_a_generation_whose_lease_is_taken_over_commits_nothing(stack: Stack) -> None:
    stack.env.update(
        {"SCRIPTCACHE_TASK_SOFT_TIME_LIMIT_S": "20", "SCRIPTCACHE_TASK_TIME_LIMIT_S": "25"}
    )
    run = RunBuilder("wr_over", "wf_over", definition([task_block("one"), task_block("two")]))
    run.block("one")
    stack.start_worker()
    stack.wait_ready()
    stack.publish(run.events)
    wait_until(lambda: stack.settled("wr_over"), 20, "the first generation", stack)
    holder = lock_script_row(stack, "wf_over")
    try:
        run.block("two")
        stack.publish(run.events[-1:])
        wait_until(lambda: waiting_on_lock(stack), 20, "the second generation to block", stack)
        with stack.sessions.begin() as session:  # another worker takes the run over
            session.execute(
                text(
                    "UPDATE run_debounce SET lease_token = 'intruder', "
                    "lease_until = now() + interval '60 seconds' WHERE workflow_run_id = 'wr_over'"
                )
            )
        time.sleep(5)  # a heartbeat (every lease / 3 = 3.3 s) finds it
    finally:
        holder.rollback()
        holder.close()
    wait_until(lambda: "rolled back" in stack.worker_log(), 20, "the rollback", stack)
    time.sleep(1)
    assert stack.revisions("wf_over") == 1
    assert live_labels(stack, "wf_over") == {"one"}
    row = stack.debounce("wr_over")
    assert row is not None and row.lease_token == "intruder" and row.generations == 1


def test_idle_sweeps_stay_out_of_flower_and_out_of_the_info_log(
    stack: Stack, tmp_path: Path
) -> None:
    """The sweeper runs every second here; Flower's task list still shows the real tasks and
    no sweep, and an idle sweep writes no info line."""
    with running_flower(stack, tmp_path) as port:
        stack.start_worker()
        stack.start_beat()
        stack.wait_ready()
        stack.publish(linear_run("wr_ops", "wf_ops", ["a", "b"]))
        wait_until(lambda: stack.settled("wr_ops"), 30, "the run to be generated", stack)

        def names() -> set[str]:
            return {t.get("name") for t in flower_get(port, "/api/tasks").values()}

        wait_until(
            lambda: {"scriptcache.block_completed", "scriptcache.generate"} <= names(),
            90,
            "Flower to see the real tasks",
            stack,
        )
        time.sleep(4)  # four more idle sweeps
        assert "scriptcache.sweep" not in names()
        logs = "".join(
            p.read_text(errors="replace").split(" ready.", 1)[-1]  # no banner
            for p in stack.logs.glob("worker-*.log")
        )
        assert "scriptcache.sweep" not in logs and "dispatched 0" not in logs
