"""Fuzzed events through the real worker, mixed with valid runs: the worker never dies, every
invalid event is dead-lettered with a reason, the valid runs are all generated.

SCRIPTCACHE_FUZZ_EVENTS sets how many fuzzed events (CI: 2,000; the full campaign: 10,000).
Invalid UTF-8 cannot travel inside a JSON Celery message: test_operations.py covers it where
bytes enter (parse_line and `scriptcache publish`).
"""

from __future__ import annotations

import copy
import os
import random
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from config.names import TASK_NAMES
from tests.factory import RunBuilder, definition, linear_run, task_block
from tests.support.stack import WORKER_DEATH, Stack, all_logs, live_labels, wait_until
from worker.adapters.publisher import producer_app, publish_events
from worker.adapters.sql import models as m

MAX_EVENT_BYTES = 200_000
Event = dict[str, Any]


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = [value]
    return value


def base_events(i: int) -> list[Event]:
    """A valid run_started, block_completed and run_finished of a run of its own."""
    b = RunBuilder(f"wr_fz_{i}", f"wf_fz_{i}", definition([task_block("a")]))
    b.block("a")
    return b.finish()


# Mutations that make an event invalid, whatever else it holds: (event type, mutate).
WRONG_TYPES: dict[str, list[tuple[str, Any]]] = {
    "run_started": [
        ("workflow_version", "1"),
        ("workflow_version", 1.5),
        ("workflow_version", -1),
        ("workflow_version", 2**40),
        ("definition", "nope"),
        ("definition", []),
        ("parameters", []),
        ("run_with", "robot"),
        ("code_gen", "yes"),
        ("workflow_permanent_id", 7),
        ("workflow_permanent_id", ""),
    ],
    "block_completed": [
        ("status", "exploded"),
        ("status", 1),
        ("label", 5),
        ("label", ""),
        ("actions", "click"),
        ("actions", [1, 2]),
        ("task", "t"),
        ("loop_index", "3"),
        ("loop_index", 2**40),
        ("executed_with", "magic"),
        ("workflow_run_block_id", None),
        ("block_type", ""),
        ("block_type", 9),
    ],
    "run_finished": [("status", "exploded"), ("status", None), ("status", ["completed"])],
}
COMMON_WRONG = [
    ("event_id", 12),
    ("event_id", ""),
    ("event_id", None),
    ("occurred_at", "yesterday"),
    ("occurred_at", [2026]),
    ("workflow_run_id", {}),
    ("workflow_run_id", ""),
]
REQUIRED = {
    "run_started": ["workflow_permanent_id", "workflow_version", "definition"],
    "block_completed": ["workflow_run_block_id", "label", "block_type", "status"],
    "run_finished": ["status"],
}
COMMON_REQUIRED = ["event_id", "occurred_at", "workflow_run_id"]


def fuzzed(rng: random.Random, i: int) -> tuple[str, Any]:
    """One invalid event: (task name to send it to, payload)."""
    event = copy.deepcopy(rng.choice(base_events(i)))
    kind = event["type"]
    choice = rng.randrange(12)
    if choice == 0:
        del event[rng.choice(COMMON_REQUIRED + REQUIRED[kind])]
    elif choice in (1, 2):
        field, value = rng.choice(COMMON_WRONG + WRONG_TYPES[kind])
        event[field] = value
    elif choice == 3:
        event["event_id"] = "e" * rng.randint(257, 5000)  # over the column's 256
    elif choice == 4 and rng.random() < 0.1:  # a few huge ones: over the size limit
        event["huge"] = "x" * rng.randint(MAX_EVENT_BYTES, 2 * MAX_EVENT_BYTES)
    elif choice == 4:
        event["nested"] = deep(rng.randint(65, 400))  # deeper than 64 levels
    elif choice == 5:
        event[rng.choice(["extra", "event_id", "workflow_run_id"])] = "nul\x00inside"
    elif choice == 6:
        event["extra"] = {"lone": "\ud800" + "x"}  # not encodable as UTF-8
    elif choice == 7:
        event["extra"] = [1.0, float(rng.choice(["nan", "inf", "-inf"]))]
    elif choice == 8:  # definitions: a reserved label, duplicate labels, too deep
        start = copy.deepcopy(base_events(i)[0])
        blocks = rng.choice(
            [
                [task_block("__start_block__")],
                [task_block("a"), task_block("a")],
                [_nested_loops(40)],
            ]
        )
        start["definition"]["blocks"] = blocks
        return TASK_NAMES["run_started"], start
    elif choice == 9:  # not an object at all
        return rng.choice(list(TASK_NAMES.values())), rng.choice(
            [None, 3, "run_started", ["a"], [event]]
        )
    elif choice == 10:  # sent to the wrong task for its type
        other = rng.choice([t for t in TASK_NAMES if t != kind])
        return TASK_NAMES[other], event
    else:
        event["type"] = rng.choice(["run_paused", "", None, 3, "RUN_STARTED"])
        return TASK_NAMES[kind], event
    return TASK_NAMES[kind], event


def _nested_loops(depth: int) -> dict[str, Any]:
    block: dict[str, Any] = task_block("leaf")
    for level in range(depth):
        block = {
            "label": f"loop{level}",
            "block_type": "for_loop",
            "loop_over": "x",
            "loop_blocks": [block],
        }
    return block


def strange_but_valid_runs() -> tuple[list[Event], dict[str, set[str]]]:
    """Valid events that look odd: unknown block and action types in a run, parent ids in a
    cycle, unknown extra fields. Their runs must be generated like any other."""
    b = RunBuilder("wr_odd", "wf_odd", definition([task_block("top"), task_block("other")]))
    b.block(
        "top",
        actions=[
            {"action_type": "teleport", "xpath": "//x"},
            {"action_type": "click", "xpath": "//y"},
        ],
    )
    first = f"wrb_wr_odd_{b.n + 1:05d}"
    second = f"wrb_wr_odd_{b.n + 2:05d}"
    b.block("ghost_a", "teleport", parent=second)  # a cycle: a's parent is b,
    b.block("ghost_b", "navigation", parent=first)  # b's parent is a
    b.events[-1]["an_extra_field"] = {"kept": True}
    events = b.finish()
    assert events[2]["workflow_run_block_id"] == first
    runs = [linear_run(f"wr_fv_{i}", f"wf_fv_{i}", [f"s{i}_a", f"s{i}_b"]) for i in range(20)]
    expected = {f"wf_fv_{i}": {f"s{i}_a", f"s{i}_b"} for i in range(20)}
    expected["wf_odd"] = {"top"}
    return [e for run in [events, *runs] for e in run], expected


@pytest.mark.campaign  # make test-campaigns (CI), not make test: see the Makefile
def test_fuzzed_events_are_dead_lettered_and_never_crash_the_worker(
    sec_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    count = int(os.environ.get("SCRIPTCACHE_FUZZ_EVENTS") or 2000)
    seed = int(os.environ.get("SCRIPTCACHE_FUZZ_SEED") or random.SystemRandom().randrange(2**32))
    with capsys.disabled():
        print(f"\n[fuzz] seed={seed} events={count}", flush=True)
    rng = random.Random(seed)
    bad = [fuzzed(rng, i) for i in range(count)]
    good, expected = strange_but_valid_runs()
    stream: list[tuple[str | None, Any]] = [(None, e) for e in good] + bad
    rng.shuffle(stream)
    sec_stack.env["SCRIPTCACHE_MAX_EVENT_BYTES"] = str(MAX_EVENT_BYTES)
    sec_stack.env["SCRIPTCACHE_RUN_START_WAIT_S"] = "600"
    sec_stack.start_beat()
    worker = sec_stack.start_worker()
    app = producer_app(sec_stack.env["SCRIPTCACHE_BROKER_URL"])
    started = time.monotonic()
    try:
        with app.producer_or_acquire() as producer:
            for task, payload in stream:
                if task is None:
                    publish_events(app, [payload])
                else:  # a payload the publisher would refuse to send: a raw Celery message
                    app.send_task(
                        task,
                        args=[payload],
                        queue="scriptcache.events",
                        producer=producer,
                        argsrepr="fuzzed",
                        kwargsrepr="{}",
                    )
    finally:
        app.close()

    def dead_letters() -> int:
        return int(sec_stack.scalar(select(func.count()).select_from(m.DeadLetter)))

    wait_until(
        lambda: dead_letters() >= count, 120 + count / 10, f"{count} dead letters", sec_stack
    )
    wait_until(
        lambda: all(live_labels(sec_stack, w) == labels for w, labels in expected.items()),
        120,
        "every valid run to be generated",
        sec_stack,
    )
    time.sleep(2)
    with sec_stack.sessions() as session:
        entries = session.scalars(select(m.DeadLetter)).all()
    elapsed = time.monotonic() - started
    with capsys.disabled():
        print(
            f"[fuzz] {count} invalid events dead-lettered, {len(good)} valid events, "
            f"{len(expected)} runs generated in {elapsed:.0f} s",
            flush=True,
        )
    assert len(entries) == count, [e.error for e in entries][-5:]
    assert all(e.task_name in TASK_NAMES.values() for e in entries)
    assert all(e.error and e.error.strip() and e.traceback for e in entries)
    assert worker.poll() is None, "the worker died"
    deaths = WORKER_DEATH.findall(all_logs(sec_stack))
    assert deaths == [], deaths[:5]
