"""The worker end to end: real `celery worker` and `celery beat` processes, real Redis,
real PostgreSQL, the local blob store."""

from __future__ import annotations

import time

import redis
from sqlalchemy import select, text

from tests.factory import RunBuilder, definition, linear_run, task_block
from tests.support.stack import Stack, live_labels, wait_until
from worker.adapters.sql import models as m


def test_a_burst_of_thirty_blocks_within_one_quiet_period_is_generated_once(stack: Stack) -> None:
    labels = [f"step_{i:02d}" for i in range(30)]
    stack.start_worker()
    stack.publish(linear_run("wr_burst", "wf_burst", labels, finish=False))
    wait_until(lambda: stack.settled("wr_burst"), 30, "the burst to be generated", stack)
    time.sleep(2.5)  # longer than the quiet period: nothing else may follow
    row = stack.debounce("wr_burst")
    assert row is not None and row.generations == 1
    assert stack.revisions("wf_burst") == 1
    assert live_labels(stack, "wf_burst") == set(labels)


def test_a_run_whose_events_keep_coming_is_generated_within_the_max_wait(stack: Stack) -> None:
    labels = [f"slow_{i:02d}" for i in range(14)]
    events = linear_run("wr_slow", "wf_slow", labels, finish=False)
    stack.start_worker()
    stack.wait_ready()
    stack.publish(events[:2])
    first_event_at = time.monotonic()
    for event in events[2:]:  # an event every 0.5 s, shorter than the 1 s quiet period
        time.sleep(0.5)
        stack.publish([event])
        if stack.revisions("wf_slow"):
            break
    wait_until(lambda: stack.revisions("wf_slow") >= 1, 10, "a first revision", stack)
    waited_s = time.monotonic() - first_event_at
    assert waited_s <= 4 + 2.0, f"first revision after {waited_s:.1f} s; max wait is 4 s"
    assert len(events) - 1 > 8  # events were still arriving when it was generated


def test_twenty_interleaved_runs_each_get_their_labels_cached(stack: Stack) -> None:
    runs = [
        linear_run(f"wr_mix_{i}", f"wf_mix_{i}", [f"a_{i}", f"b_{i}", f"c_{i}"]) for i in range(20)
    ]
    interleaved = [e for group in zip(*runs, strict=True) for e in group]
    stack.start_worker()
    stack.wait_ready()
    stack.publish(interleaved)
    wait_until(
        lambda: all(stack.settled(f"wr_mix_{i}") for i in range(20)),
        60,
        "all twenty runs to be generated",
        stack,
    )
    for i in range(20):
        assert live_labels(stack, f"wf_mix_{i}") == {f"a_{i}", f"b_{i}", f"c_{i}"}
    assert stack.revisions() == 20


def lock_script_row(stack: Stack, wpid: str):  # type: ignore[no-untyped-def]
    """Hold the script row's lock from outside, so the next publish of it waits."""
    session = stack.sessions()
    session.execute(
        text("SELECT 1 FROM scripts WHERE workflow_permanent_id = :w FOR UPDATE"), {"w": wpid}
    )
    return session


def waiting_on_lock(stack: Stack) -> bool:
    return bool(
        stack.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"
            )
        )
    )


def test_an_event_arriving_during_a_generation_causes_exactly_one_more(stack: Stack) -> None:
    run = RunBuilder(
        "wr_trail",
        "wf_trail",
        definition([task_block("one"), task_block("two"), task_block("three")]),
    )
    run.block("one")
    stack.start_worker()
    stack.publish(run.events)
    wait_until(lambda: stack.settled("wr_trail"), 20, "the first generation", stack)
    holder = lock_script_row(stack, "wf_trail")
    try:
        run.block("two")
        stack.publish(run.events[-1:])
        wait_until(lambda: waiting_on_lock(stack), 20, "the second generation to block", stack)
        run.block("three")
        stack.publish(run.events[-1:])
        wait_until(
            lambda: (
                stack.scalar(
                    select(m.WorkflowRunBlock.label).where(m.WorkflowRunBlock.label == "three")
                )
                == "three"
            ),
            10,
            "the trailing event's intake",
        )
    finally:
        holder.rollback()
        holder.close()
    wait_until(
        lambda: live_labels(stack, "wf_trail") == {"one", "two", "three"},
        20,
        "the trailing generation",
        stack,
    )
    wait_until(lambda: stack.settled("wr_trail"), 10, "the record to clear", stack)
    time.sleep(2)
    row = stack.debounce("wr_trail")
    assert row is not None and row.generations == 3
    assert stack.revisions("wf_trail") == 3


def test_a_worker_killed_during_a_generation_leaves_no_partial_revision(stack: Stack) -> None:
    run = RunBuilder("wr_kill", "wf_kill", definition([task_block("one"), task_block("two")]))
    run.block("one")
    worker = stack.start_worker()
    stack.start_beat()
    stack.publish(run.events)
    wait_until(lambda: stack.settled("wr_kill"), 20, "the first generation", stack)
    holder = lock_script_row(stack, "wf_kill")
    try:
        run.block("two")
        stack.publish(run.events[-1:])
        wait_until(lambda: waiting_on_lock(stack), 20, "the second generation to block", stack)
        stack.kill(worker)
    finally:
        holder.rollback()
        holder.close()
    assert stack.revisions("wf_kill") == 1
    stack.start_worker()
    wait_until(
        lambda: live_labels(stack, "wf_kill") == {"one", "two"},
        40,
        "recovery after the lease expired",
        stack,
    )
    assert stack.revisions("wf_kill") == 2
    with stack.sessions() as session:  # every revision is whole: files and blocks present
        for revision in session.scalars(select(m.ScriptRevision)):
            files = session.scalars(
                select(m.ScriptFile).where(
                    m.ScriptFile.script_revision_id == revision.script_revision_id
                )
            ).all()
            assert any(f.path == "main.py" for f in files)


def test_an_emptied_redis_delays_pending_work_and_the_sweeper_recovers_it(stack: Stack) -> None:
    runs = [linear_run(f"wr_flush_{i}", f"wf_flush_{i}", ["x", "y"]) for i in range(5)]
    events = [e for run in runs for e in run if e["type"] != "run_finished"]
    worker = stack.start_worker(env={"SCRIPTCACHE_QUIET_S": "30", "SCRIPTCACHE_MAX_WAIT_S": "60"})
    stack.publish(events)
    wait_until(
        lambda: (
            all(stack.debounce(f"wr_flush_{i}") is not None for i in range(5))
            and stack.scalar(
                select(m.RunDebounce.seq).where(m.RunDebounce.workflow_run_id == "wr_flush_4")
            )
            == 3
        ),
        20,
        "intake of every event",
        stack,
    )
    stack.kill(worker)
    redis.Redis.from_url(stack.env["SCRIPTCACHE_BROKER_URL"]).flushall()
    with stack.sessions.begin() as session:  # the quiet period is over for all of them
        session.execute(text("UPDATE run_debounce SET due_at = now() - interval '1 second'"))
    stack.start_worker()
    stack.start_beat()
    wait_until(
        lambda: all(stack.settled(f"wr_flush_{i}") for i in range(5)),
        40,
        "the sweeper to recover every run",
        stack,
    )
    assert stack.revisions() == 5


def test_a_poison_event_is_dead_lettered_and_the_worker_keeps_consuming(stack: Stack) -> None:
    good = linear_run("wr_good", "wf_good", ["a"])
    poison = dict(good[1], event_id="evt_poison", status="exploded")
    stack.start_worker()
    stack.publish([poison, *good])
    wait_until(lambda: stack.settled("wr_good"), 20, "the good run", stack)
    with stack.sessions() as session:
        entries = session.scalars(select(m.DeadLetter)).all()
    assert [e.event_id for e in entries] == ["evt_poison"]
    assert "status" in entries[0].error and entries[0].task_name == "scriptcache.block_completed"
    assert entries[0].traceback
