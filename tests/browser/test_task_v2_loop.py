"""The closed loop for a task_v2 block in real Chromium (ARCHITECTURE.md §8): a replay
records each helper call of the task_v2's function as a child block, emits the children
under the task_v2's run block, and a child that fell back repairs the task_v2; the next
replay runs from code with 0 fallbacks and the same server-side effects. Generation here is
the service in-process (as `scriptcache ingest --generate` runs it); the last test runs the
repair through a real worker.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from sqlalchemy import select

from tests.browser.test_replay import ALICE
from tests.keys import SEAL_KEY
from tests.support.browser import run_async
from tests.support.portal import Cache, Portal
from tests.support.stack import Stack, wait_until
from worker.adapters.sql import models as m
from worker.adapters.sql import scripts as read
from worker.adapters.store import open_store
from worker.app.generation import GenerateResult, generate_now
from worker.app.intake import record_only
from worker.browser.agent import BlockRequest
from worker.browser.agent_run import run_with_agent
from worker.browser.chromium import open_page
from worker.browser.emit import RunInfo, emit_events
from worker.browser.replay import Hooks, replay_revision
from worker.demo.portal.closed_loop import OPTIONAL_TIMEOUT_S, SELECTOR_TIMEOUT_S, Run
from worker.demo.portal.workflow import read_status_total
from worker.demo.standin import StandInAgent, Step
from worker.domain.definition import Definition
from worker.domain.events import parse_event
from worker.domain.schemas import schemas

WPID = "wpid_browser_task_v2"
LABEL = "check_order"
ORDER = "A-1002"
PARAMETERS = {"username": ALICE.username, "order_number": ORDER}
CREDENTIALS = {"password": ALICE.password}
GOAL = "Read the order's status and total"
SCHEMA = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "total": {"type": "number"}},
}


def effects(portal: Portal) -> tuple[list[Any], list[Any]]:
    """The site's form posts and order views since the last call; the site is cleared."""
    found = list(portal.site.posts), list(portal.site.views)
    portal.site.clear()
    return found


def check_events(events: list[dict[str, Any]]) -> None:
    """Valid against the published JSON Schemas, and no credential anywhere."""
    for event in events:
        jsonschema.validate(event, schemas()[event["type"]])
    assert ALICE.password not in json.dumps(events)
    assert [e["type"] for e in events][:: len(events) - 1] == ["run_started", "run_finished"]


def record(cache: Cache, run: Run) -> GenerateResult:
    """Ingest the run's events and generate from them at once (`ingest --generate`)."""
    (run_id,) = record_only(cache.sessions, [parse_event(e) for e in run.events], SEAL_KEY)
    return generate_now(cache.sessions, cache.store, run_id)


def definition(base_url: str) -> dict[str, Any]:
    return {
        "title": "Check an order with a task_v2 block",
        "cache_key": "default",
        "parameters": [
            {"key": "username", "parameter_type": "workflow"},
            {"key": "password", "parameter_type": "credential"},
            {"key": "order_number", "parameter_type": "workflow"},
        ],
        "blocks": [
            {
                "label": LABEL,
                "block_type": "task_v2",
                "url": f"{base_url}/login",
                "prompt": "Sign in and read the status and total of order {{ order_number }}",
            }
        ],
    }


def _check_order(request: BlockRequest, memory: Mapping[str, Any]) -> list[Step]:
    return [
        Step(
            "fill",
            "Type the username into 'Username'",
            request["parameters"]["username"],
            "username",
        ),
        Step(
            "fill",
            "Type the password into 'Password'",
            request["credentials"]["password"],
            "password",
        ),
        Step("click", "Click 'Sign in'"),
        Step(
            "fill",
            "Type the order number into 'Order number'",
            request["parameters"]["order_number"],
            "order_number",
        ),
        Step("press", "Press Enter to open the order", "Enter"),
        Step("extract", GOAL),
    ]


def standin() -> StandInAgent:
    return StandInAgent({LABEL: _check_order}, extractor=read_status_total)


def recorded_children(base_url: str, run_id: str) -> list[dict[str, Any]]:
    """An agent platform's task_v2 run with three children, as it publishes them."""
    parent = f"wrb_{run_id}_v2"

    def child(
        n: int, label: str, block_type: str, url: str, actions: list[dict[str, Any]], **task: Any
    ) -> dict[str, Any]:
        return {
            "type": "block_completed",
            "event_id": f"evt_{run_id}_{n}",
            "occurred_at": f"2026-12-01T10:00:0{n}+00:00",
            "workflow_run_id": run_id,
            "workflow_run_block_id": f"wrb_{run_id}_{n}",
            "parent_workflow_run_block_id": parent,
            "label": label,
            "block_type": block_type,
            "status": "completed",
            "executed_with": "agent",
            "task": {"task_id": f"tsk_{run_id}_{n}", "url": url, **task},
            "actions": [
                {
                    "action_id": f"act_{run_id}_{n}_{i}",
                    "status": "completed",
                    "text": None,
                    "option": None,
                    "parameter_key": None,
                    **a,
                }
                for i, a in enumerate(actions)
            ],
        }

    return [
        {
            "type": "run_started",
            "event_id": f"evt_{run_id}_0",
            "occurred_at": "2026-12-01T10:00:00+00:00",
            "workflow_run_id": run_id,
            "workflow_permanent_id": WPID,
            "workflow_version": 1,
            "definition": definition(base_url),
            "parameters": PARAMETERS,
            "run_with": "agent",
            "code_gen": False,
        },
        child(
            1,
            "sign in",
            "login",
            f"{base_url}/login",
            [
                {
                    "action_type": "input_text",
                    "xpath": "//input[@name='username']",
                    "intention": "Type the username",
                    "text": ALICE.username,
                },
                {
                    "action_type": "input_text",
                    "xpath": "//input[@name='password']",
                    "intention": "Type the password into 'Password'",
                    "parameter_key": "password",
                },
                {
                    "action_type": "click",
                    "xpath": "//button[@aria-label='Dismiss cookie banner']",
                    "intention": "Close the cookie banner",
                },
                {
                    "action_type": "click",
                    "xpath": "//button[normalize-space()='Sign in']",
                    "intention": "Click 'Sign in'",
                },
            ],
        ),
        child(
            2,
            "find the order",
            "navigation",
            f"{base_url}/orders",
            [
                {
                    "action_type": "input_text",
                    "xpath": "//input[@placeholder='Order number']",
                    "intention": "Type the order number into 'Order number'",
                    "text": ORDER,
                },
                {
                    "action_type": "keypress",
                    "xpath": None,
                    "intention": "Press Enter",
                    "text": "Enter",
                },
            ],
        ),
        child(
            3,
            "read it",
            "extraction",
            f"{base_url}/orders/{ORDER}",
            [{"action_type": "extract", "xpath": None, "intention": GOAL}],
            data_extraction_goal=GOAL,
            extracted_information_schema=SCHEMA,
        ),
        {
            "type": "block_completed",
            "event_id": f"evt_{run_id}_4",
            "occurred_at": "2026-12-01T10:00:04+00:00",
            "workflow_run_id": run_id,
            "workflow_run_block_id": parent,
            "parent_workflow_run_block_id": None,
            "label": LABEL,
            "block_type": "task_v2",
            "status": "completed",
            "executed_with": "agent",
            "task": None,
            "actions": [],
        },
        {
            "type": "run_finished",
            "event_id": f"evt_{run_id}_5",
            "occurred_at": "2026-12-01T10:00:05+00:00",
            "workflow_run_id": run_id,
            "status": "completed",
        },
    ]


async def _agent_run(chromium: str, base_url: str, run_id: str) -> Run:
    defn = Definition.model_validate(definition(base_url))
    agent = standin()
    async with open_page(chromium) as page:
        result = await run_with_agent(
            page, defn, PARAMETERS, CREDENTIALS, agent, extractor=read_status_total
        )
    result.raise_for_error()
    info = RunInfo(WPID, 1, None, None, PARAMETERS, CREDENTIALS, run_id, run_with="agent")
    return Run(result, emit_events(result, defn, info), agent, list(agent.calls))


async def _replay(
    chromium: str,
    files: Mapping[str, bytes],
    defn: Definition,
    script: tuple[int, int],
    run_id: str,
    relocate: bool = True,
) -> Run:
    agent = standin()
    result = await replay_revision(
        files,
        defn,
        PARAMETERS,
        CREDENTIALS,
        chromium_path=chromium,
        agent=agent,
        selector_timeout_s=SELECTOR_TIMEOUT_S,
        optional_timeout_s=OPTIONAL_TIMEOUT_S,
        hooks=Hooks(extractor=read_status_total),
        relocate=relocate,
    )
    result.raise_for_error()
    info = RunInfo(WPID, 1, *script, PARAMETERS, CREDENTIALS, run_id)
    return Run(result, emit_events(result, defn, info), agent, list(agent.calls))


def live(cache: Cache) -> tuple[dict[str, bytes], Definition, tuple[int, int]]:
    files, defn = cache.live(WPID)
    with cache.sessions() as session:
        revision = read.select_revision(session, read.resolve_script(session, WPID, None), None)
    return files, defn, (revision.script_id, revision.version)


def replay(chromium: str, cache: Cache, run_id: str, relocate: bool = True) -> Run:
    files, defn, script = live(cache)
    return run_async(_replay(chromium, files, defn, script, run_id, relocate))


def children(run: Run) -> list[tuple[str, str, str]]:
    """(label, block_type, fallback) of the task_v2's children, checked to be its own."""
    blocks = [e for e in run.events if e["type"] == "block_completed"]
    (parent,) = [e for e in blocks if e["parent_workflow_run_block_id"] is None]
    assert (parent["label"], parent["block_type"]) == (LABEL, "task_v2")
    kids = [e for e in blocks if e is not parent]
    assert {e["parent_workflow_run_block_id"] for e in kids} == {parent["workflow_run_block_id"]}
    return [(e["label"], e["block_type"], e["fallback"]) for e in kids]


def task_v2_code(cache: Cache) -> str:
    return live(cache)[0][f"blocks/{LABEL}.py"].decode()


@pytest.mark.parametrize("relocate", [True, False], ids=["relocated", "agent"])
def test_an_agent_run_task_v2_is_repaired_from_a_replay_whose_child_fell_back(
    chromium: str, portal: Portal, cache: Cache, relocate: bool
) -> None:
    learned = run_async(_agent_run(chromium, portal.base_url, "wr_v2_agent"))
    check_events(learned.events)
    assert children(learned) == [(LABEL, "task", "none")]
    assert record(cache, learned).regenerated
    agent_effects = effects(portal)
    assert agent_effects[1] == [(ALICE.username, ORDER)]

    clean = replay(chromium, cache, "wr_v2_v1")
    assert (clean.fallbacks, clean.calls) == ([], [])
    assert children(clean) == [(LABEL, "task", "none")]
    assert effects(portal) == agent_effects
    assert not record(cache, clean).regenerated

    portal.site.variant = "v2"  # the agent's absolute xpaths no longer hold
    broken = replay(chromium, cache, "wr_v2_broken", relocate)
    check_events(broken.events)
    if relocate:  # the moved elements are found again by tag and text: no agent call
        assert (broken.relocated, broken.fallbacks, broken.calls) == (
            [(LABEL, None), (LABEL, None)],
            [],
            [],
        )  # the child, then its task_v2
        assert children(broken) == [(LABEL, "task", "relocated")]
    else:
        assert broken.fallbacks == [(LABEL, None, "element"), (LABEL, None, "element")]
        assert children(broken) == [(LABEL, "task", "element")]
        assert ("run_block", LABEL) not in broken.calls
    before = task_v2_code(cache)
    assert effects(portal) == agent_effects  # the agent kept the run going
    repaired = record(cache, broken)
    assert (repaired.regenerated, repaired.labels) == (True, (LABEL,))
    assert repaired.reason.startswith("repair: ")
    assert task_v2_code(cache) != before

    fixed = replay(chromium, cache, "wr_v2_fixed")
    assert (fixed.fallbacks, fixed.relocated, fixed.calls) == ([], [], [])
    assert effects(portal) == agent_effects
    assert not record(cache, fixed).regenerated


def test_a_recorded_task_v2_child_that_fell_back_is_repaired_and_its_siblings_kept(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    assert cache.record(recorded_children(portal.base_url, "wr_v2_recorded"))[0].regenerated
    first = replay(chromium, cache, "wr_v2_first")
    assert (first.fallbacks, first.calls) == ([], [])
    assert children(first) == [
        ("sign in", "login", "none"),
        ("find the order", "navigation", "none"),
        ("read it", "extraction", "none"),
    ]
    reference = effects(portal)
    before = task_v2_code(cache)

    portal.site.rename_sign_in = True  # the recorded button's text and id change
    broken = replay(chromium, cache, "wr_v2_renamed")
    check_events(broken.events)
    assert children(broken) == [
        ("sign in", "login", "element"),
        ("find the order", "navigation", "none"),
        ("read it", "extraction", "none"),
    ]
    assert broken.calls == [("act", "sign in")]
    assert effects(portal) == reference
    repaired = record(cache, broken)
    assert (repaired.regenerated, repaired.labels) == (True, (LABEL,))

    after = task_v2_code(cache)
    assert "//button[normalize-space()='Sign in']" in before
    assert "//button[normalize-space()='Sign in']" not in after
    assert after.count("child=True") == 3
    for kept in (
        "//input[@placeholder='Order number']",
        "ctx.param('order_number')",
        "ctx.credential('password')",
        repr(GOAL),
    ):
        assert kept in after
    fixed = replay(chromium, cache, "wr_v2_renamed_fixed")
    assert (fixed.fallbacks, fixed.calls) == ([], [])
    assert effects(portal) == reference
    assert not record(cache, fixed).regenerated


def test_a_task_v2_whose_child_the_agent_cannot_fix_is_run_whole_and_then_repaired(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    cache.record(recorded_children(portal.base_url, "wr_v2_recorded"))
    portal.site.rename_fields = True  # "Type the username" names no field the agent finds

    broken = replay(chromium, cache, "wr_v2_whole")
    check_events(broken.events)
    assert broken.calls == [("act", "sign in"), ("run_block", LABEL)]
    assert children(broken) == [(LABEL, "task", "none")]
    (event,) = [
        e for e in broken.events if e.get("label") == LABEL and e["block_type"] == "task_v2"
    ]
    assert (event["fallback"], event["executed_with"]) == ("block", "agent")
    reference = effects(portal)
    assert reference[1] == [(ALICE.username, ORDER)]
    repaired = record(cache, broken)
    assert (repaired.regenerated, repaired.labels) == (True, (LABEL,))
    assert repaired.reason.startswith("repair: ")
    assert "child=True" in task_v2_code(cache)

    # The agent's act had closed the cookie banner before it gave up, so the agent's run of
    # the whole block never met it: the first replay from its actions falls back once for
    # the banner (a precondition, optional from then on), the next runs from code alone.
    again = replay(chromium, cache, "wr_v2_whole_again")
    assert again.calls == [("act", LABEL)]
    assert children(again) == [(LABEL, "task", "element")]
    assert effects(portal) == reference
    assert record(cache, again).regenerated
    fixed = replay(chromium, cache, "wr_v2_whole_fixed")
    assert (fixed.fallbacks, fixed.calls) == ([], [])
    assert effects(portal) == reference


def test_a_task_v2_child_that_fell_back_repairs_the_cache_through_the_worker(
    chromium: str, portal: Portal, stack: Stack, tmp_path: Path
) -> None:
    stack.start_worker()
    recorded = recorded_children(portal.base_url, "wr_v2_recorded")
    stack.publish(recorded)
    store = open_store(stack.env["SCRIPTCACHE_STORE_URL"])

    def replay_live(run_id: str) -> Run:
        with stack.sessions() as session:
            script = read.resolve_script(session, WPID, None)
            revision = read.select_revision(session, script, None)
            _, defn = read.workflow_definition(session, WPID, None)
        files = read.read_files(store, revision)
        return run_async(
            _replay(chromium, files, defn, (revision.script_id, revision.version), run_id)
        )

    wait_until(lambda: stack.revisions(WPID) == 1, 60, "revision 1", stack)
    portal.site.rename_sign_in = True
    broken = replay_live("wr_v2_worker_broken")
    assert broken.calls == [("act", "sign in")]
    reference = effects(portal)
    stack.publish(broken.events)
    wait_until(lambda: stack.revisions(WPID) == 2, 60, "revision 2 (the repair)", stack)
    with stack.sessions() as session:
        assert (
            session.scalar(
                select(m.ScriptRevision.repair)
                .join(m.Script)
                .where(m.Script.workflow_permanent_id == WPID, m.ScriptRevision.version == 2)
            )
            is True
        )

    fixed = replay_live("wr_v2_worker_fixed")
    assert (fixed.fallbacks, fixed.calls) == ([], [])
    assert effects(portal) == reference
