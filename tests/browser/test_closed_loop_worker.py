"""The closed loop through a real worker (ARCHITECTURE.md §8): an agent run is learned, replays
run from code, a change of the site makes them fall back to the stand-in agent plug-in, the
replay's emitted events, published to the broker as a platform would, repair the cache, and
the next replay runs from code with 0 fallbacks and the same server-side effects. Real
Chromium, Celery worker processes, PostgreSQL, Redis.

One worker stack serves the module (starting one costs seconds on a loaded machine), with
SCRIPTCACHE_REPAIRS_PER_DAY=2; each test learns its own workflow (its own permanent id), so
their scripts and repair budgets are apart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from sqlalchemy import func, select

from config.names import GENERATE_TASK
from tests.browser.test_replay import ALICE
from tests.support.browser import run_async
from tests.support.portal import Portal
from tests.support.services import fresh_database
from tests.support.stack import Stack, running_stack, wait_until
from worker.adapters.sql import models as m
from worker.adapters.sql import scripts as read
from worker.adapters.sql.engine import make_engine, make_sessionmaker
from worker.adapters.store import open_store
from worker.demo.portal.closed_loop import Run, agent_run, replay_with_agent
from worker.domain.schemas import schemas

REPAIRS_PER_DAY = 2
DIALOG = "Close the dialog that covers the page"


@pytest.fixture(scope="module")
def loop_stack(
    pg_template: str, redis_server: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    with fresh_database(pg_template) as url:
        engine = make_engine(url)
        try:
            with running_stack(
                url,
                make_sessionmaker(engine),
                redis_server,
                tmp_path_factory.mktemp("loop"),
                {"SCRIPTCACHE_REPAIRS_PER_DAY": str(REPAIRS_PER_DAY)},
            ) as stack:
                stack.start_worker()
                yield stack
        finally:
            engine.dispose()


def effects(portal: Portal) -> tuple[list[Any], list[Any]]:
    """The site's form posts and order views since the last call; the site is cleared."""
    found = list(portal.site.posts), list(portal.site.views)
    portal.site.clear()
    return found


def check_events(events: list[dict[str, Any]]) -> None:
    """Valid against the published JSON Schemas, and no credential anywhere."""
    published = schemas()
    for event in events:
        jsonschema.validate(event, published[event["type"]])
    assert ALICE.password not in json.dumps(events)
    assert [e["type"] for e in events][:: len(events) - 1] == ["run_started", "run_finished"]


def live(stack: Stack, wpid: str) -> tuple[dict[str, bytes], Any, int, int]:
    store = open_store(stack.env["SCRIPTCACHE_STORE_URL"])
    with stack.sessions() as session:
        script = read.resolve_script(session, wpid, None)
        revision = read.select_revision(session, script, None)
        _, definition = read.workflow_definition(session, wpid, None)
    return read.read_files(store, revision), definition, revision.script_id, revision.version


def generations(stack: Stack, run_id: str) -> list[dict[str, Any]]:
    """The generate task's outcome lines for the run, from the worker's JSON log."""
    lines = [
        entry
        for path in sorted(stack.logs.glob("worker-*.log"))
        for line in path.read_text(errors="replace").splitlines()
        if (entry := json_entry(line)) is not None
    ]
    return [
        line
        for line in lines
        if line.get("task") == GENERATE_TASK and line.get("workflow_run_id") == run_id
    ]


def json_entry(line: str) -> dict[str, Any] | None:
    """The JSON log entry a line starts with. The worker's processes share one log file, so
    another process's plain line may follow an entry before its newline does (seen here:
    `{...}[2026-12-01 ...] INFO celery.worker.strategy: ...`)."""
    if not line.startswith("{"):
        return None
    try:
        entry, _ = json.JSONDecoder().raw_decode(line)
    except json.JSONDecodeError:
        return None  # a line still being written
    return entry if isinstance(entry, dict) else None


def published(stack: Stack, run: Run, revisions: int) -> list[dict[str, Any]]:
    """Publish the run's events; wait until the worker took all of them in and generated
    from all of them. Returns the generate task's outcome lines for the run."""
    run_id, wpid = run.events[0]["workflow_run_id"], run.events[0]["workflow_permanent_id"]
    stack.publish(run.events)

    def done() -> bool:
        received = stack.scalar(
            select(func.count())
            .select_from(m.ReceivedEvent)
            .where(m.ReceivedEvent.workflow_run_id == run_id)
        )
        row = stack.debounce(run_id)
        return (
            received == len(run.events)
            and row is not None
            and row.due_at is None
            and row.processed_seq == row.seq
            and stack.revisions(wpid) == revisions
        )

    wait_until(done, 60, f"revision {revisions} from {run_id}", stack)
    wait_until(lambda: bool(generations(stack, run_id)), 30, f"the log line of {run_id}", stack)
    return generations(stack, run_id)


def learn(chromium: str, portal: Portal, stack: Stack, wpid: str) -> tuple[list[Any], list[Any]]:
    """The stand-in agent's run of the workflow on v1, published: revision 1. Returns its
    server-side effects."""
    learned = run_async(agent_run(chromium, portal.base_url, ALICE, f"wr_{wpid}", wpid=wpid))
    check_events(learned.events)
    published(stack, learned, 1)
    return effects(portal)


def replay(chromium: str, stack: Stack, wpid: str, run_id: str) -> Run:
    files, definition, script_id, version = live(stack, wpid)
    return run_async(
        replay_with_agent(
            chromium,
            files,
            definition,
            ALICE,
            script_id=script_id,
            version=version,
            run_id=run_id,
            wpid=wpid,
        )
    )


def repair_flags(stack: Stack, wpid: str) -> list[bool]:
    with stack.sessions() as session:
        return list(
            session.scalars(
                select(m.ScriptRevision.repair)
                .join(m.Script)
                .where(m.Script.workflow_permanent_id == wpid)
                .order_by(m.ScriptRevision.version)
            )
        )


def test_redesigns_v2_and_v3_are_each_repaired_by_one_replay_without_the_agent(
    chromium: str, portal: Portal, loop_stack: Stack
) -> None:
    stack, wpid = loop_stack, "wpid_loop_redesign"
    agent_effects = learn(chromium, portal, stack, wpid)
    clean = replay(chromium, stack, wpid, "wr_v1")
    assert (clean.fallbacks, clean.calls) == ([], [])
    assert effects(portal) == agent_effects

    # v2 moves every element, v3 renames two buttons: each found again by the matcher (their
    # id, name and form survive), no agent call. The agent's path through the worker is
    # test_task_v2_loop's relocate=False case.
    for n, (variant, broken_blocks, fallback) in enumerate(
        (
            # v2 wraps each page: read_order's readers find their fields again too
            ("v2", {"sign_in", "open_order", "read_order", "request_refund"}, "relocated"),
            ("v3", {"sign_in", "request_refund"}, "relocated"),
        ),
        start=2,
    ):
        portal.site.variant = variant
        broken = replay(chromium, stack, wpid, f"wr_{variant}_broken")
        assert effects(portal) == agent_effects  # the run went on to the same effects
        check_events(broken.events)
        kinds = {e["fallback"] for e in broken.events if e["type"] == "block_completed"}
        assert kinds - {"none"} == {fallback}, variant
        if fallback == "relocated":
            assert {label for label, _ in broken.relocated} == broken_blocks
            assert (broken.fallbacks, broken.calls) == ([], [])
        else:
            assert {label for label, _, _ in broken.fallbacks} == broken_blocks
            assert len(broken.calls) == len(broken_blocks)
        lines = published(stack, broken, n)
        generated = [line for line in lines if line["result"] == "generated"]
        assert [line["reason"].startswith("repair: ") for line in generated] == [True]
        children = {"open_order", "read_order"}  # the loop's: repaired as each_order
        assert set(generated[0]["labels"]) == broken_blocks - children | (
            {"each_order"} if broken_blocks & children else set()
        )
        assert repair_flags(stack, wpid)[-1] is True

        fixed = replay(chromium, stack, wpid, f"wr_{variant}_fixed")
        assert (fixed.fallbacks, fixed.relocated, fixed.calls) == ([], [], []), variant
        assert effects(portal) == agent_effects, variant
        published(stack, fixed, n)  # a clean replay teaches nothing: no revision


def test_a_banner_in_the_first_loop_iteration_only_becomes_optional_after_one_repair(
    chromium: str, portal: Portal, loop_stack: Stack
) -> None:
    stack, wpid = loop_stack, "wpid_loop_welcome"
    agent_effects = learn(chromium, portal, stack, wpid)
    portal.site.welcome_once = True

    broken = replay(chromium, stack, wpid, "wr_welcome")
    assert broken.fallbacks == [("open_order", 0, "element")]
    assert broken.calls == [("act", "open_order")]
    effects(portal)
    lines = published(stack, broken, 2)
    assert [line["labels"] for line in lines if line["result"] == "generated"] == [["each_order"]]
    code = live(stack, wpid)[0]["blocks/each_order.py"].decode()
    # (in the same call: no other `await` between; its expect= may span lines)
    assert re.search(rf"intention='{DIALOG}',(?:(?!await ).)*?\s+optional=True,", code, re.S), code

    fixed = replay(chromium, stack, wpid, "wr_welcome_fixed")
    assert (fixed.fallbacks, fixed.calls) == ([], [])
    assert effects(portal) == agent_effects
    dismissed = [
        (e["loop_index"], a["status"], a["source"])
        for e in fixed.events
        if e.get("label") == "open_order"
        for a in e["actions"]
        if a["intention"] == DIALOG
    ]
    assert dismissed == [(0, "completed", "code"), (1, "skipped", "code"), (2, "skipped", "code")]


def test_a_block_that_keeps_failing_stops_consuming_revisions_once_the_budget_is_spent(
    chromium: str, portal: Portal, loop_stack: Stack
) -> None:
    stack, wpid = loop_stack, "wpid_loop_drift"
    learn(chromium, portal, stack, wpid)
    portal.site.drift = True  # sign-in's positional xpaths never hold twice

    for i, revisions in enumerate((2, 3, 3)):
        drifted = replay(chromium, stack, wpid, f"wr_drift_{i}")
        assert [label for label, _ in drifted.relocated] == ["sign_in"]  # moved again
        lines = published(stack, drifted, revisions)

    assert lines[-1]["result"] == "unchanged"
    assert lines[-1]["reason"] == (
        f"repair budget spent: {REPAIRS_PER_DAY} repair revisions of this script in the last "
        f"24 h (SCRIPTCACHE_REPAIRS_PER_DAY={REPAIRS_PER_DAY}); not repaired: sign_in"
    )
    assert repair_flags(stack, wpid) == [False, True, True]
