"""A task_v2 block's children as a replay emits them (worker/browser/emit.py), and what the
decision and the generator make of those events: pure, no browser (the same loop in real
Chromium is tests/browser/test_task_v2_loop.py)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema

from tests.recordings import runs_from_jsonl, runs_from_raw
from tests.unit.test_golden import GOLDEN
from worker.browser.emit import RunInfo, emit_events
from worker.browser.journal import BlockRecord, Journal, ReplayResult
from worker.browser.replay import instrument, load_script
from worker.domain.codegen import generate_script
from worker.domain.decision import executed_labels, repair_labels
from worker.domain.definition import Definition
from worker.domain.events import parse_event
from worker.domain.schemas import schemas
from worker.runtime import InMemoryRunContext, RecordingPage

SECRET = "hunter2-secret"
AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
LOGIN = "https://shop.test/login"
DEFINITION = Definition.model_validate(
    {
        "title": "t",
        "cache_key": "default",
        "parameters": [
            {"key": "user", "parameter_type": "workflow"},
            {"key": "password", "parameter_type": "credential"},
        ],
        "blocks": [
            {
                "label": "portal",
                "block_type": "task_v2",
                "url": LOGIN,
                "prompt": "Sign in and read the order's total",
            }
        ],
    }
)
GOAL, SCHEMA = "Read the total", {"total": "number"}


def act(kind: str, xpath: str | None, **fields: Any) -> dict[str, Any]:
    return {
        "action_type": kind,
        "xpath": xpath,
        "intention": f"{kind} {xpath}",
        "status": "completed",
        "source": "code",
        **fields,
    }


def sign_in_actions() -> list[dict[str, Any]]:
    """The script's sign-in (the page records the password by its key): its button's
    selector failed, the agent clicked another."""
    return [
        act("input_text", "//u", text="ada"),
        act("input_text", "//p", parameter_key="password"),
        act("click", "//go", status="failed"),
        act("click", "/html/body/form/button", source="agent"),
    ]


def emitted(records: tuple[BlockRecord, ...], run_with: str = "code") -> list[dict[str, Any]]:
    result = ReplayResult((), (), (), 1.0, records=records, started_at=AT, finished_at=AT)
    script = (7, 2) if run_with == "code" else (None, None)
    info = RunInfo(
        "wf_v2", 1, *script, {"user": "ada"}, {"password": SECRET}, "wr_v2", run_with=run_with
    )
    events = emit_events(result, DEFINITION, info)
    for event in events:
        jsonschema.validate(event, schemas()[event["type"]])
        parse_event(event)
    assert SECRET not in json.dumps(events)
    return events


def blocks(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "block_completed"]


def code_replay() -> tuple[BlockRecord, ...]:
    portal = BlockRecord("portal", None, url="about:blank", finished_at=AT)
    sign_in = BlockRecord(
        "sign in",
        None,
        parent=portal,
        url=LOGIN,
        block_type="login",
        fallback="element",
        finished_at=AT,
        actions=sign_in_actions(),
    )
    read = BlockRecord(
        "read order",
        None,
        parent=portal,
        url="https://shop.test/orders/A-1",
        block_type="extraction",
        extraction=(GOAL, SCHEMA),
        extracted=[{"total": 3}],
        finished_at=AT,
        actions=[act("extract", None)],
    )
    return sign_in, read, portal


def test_a_task_v2_replayed_from_code_emits_its_children_under_its_run_block() -> None:
    sign_in, read, portal = blocks(emitted(code_replay()))

    assert [(b["label"], b["block_type"]) for b in (sign_in, read, portal)] == [
        ("sign in", "login"),
        ("read order", "extraction"),
        ("portal", "task_v2"),
    ]
    assert {sign_in["parent_workflow_run_block_id"], read["parent_workflow_run_block_id"]} == {
        portal["workflow_run_block_id"]
    }
    assert (sign_in["fallback"], read["fallback"], portal["fallback"]) == (
        "element",
        "none",
        "element",
    )
    assert {b["executed_with"] for b in (sign_in, read, portal)} == {"code"}
    assert sign_in["task"]["url"] == LOGIN
    assert [a["parameter_key"] for a in sign_in["actions"]] == ["user", "password", None, None]
    assert (read["task"]["data_extraction_goal"], read["task"]["extracted_information_schema"]) == (
        GOAL,
        SCHEMA,
    )
    assert read["output"] == {"total": 3}
    assert (portal["task"], portal["actions"], portal["parent_workflow_run_block_id"]) == (
        None,
        [],
        None,
    )


def test_a_child_that_fell_back_repairs_its_task_v2_with_the_selector_that_worked() -> None:
    (run,) = runs_from_raw(emitted(code_replay()))

    assert repair_labels(run) == {"portal"}
    main = generate_script(run, frozenset({"portal"}), {}).files["main.py"].decode()
    assert "/html/body/form/button" in main and "'//go'" not in main
    assert "ctx.credential('password')" in main and SECRET not in main
    assert "@block('sign in', block_type='login', child=True)" in main
    assert "ctx.outputs['read order'] = await page.extract(" in main
    assert "'Read the total'" in main


def test_a_task_v2_the_agent_ran_whole_is_one_child_with_the_agents_actions() -> None:
    portal = BlockRecord(
        "portal",
        None,
        url="about:blank",
        finished_at=AT,
        executed_with="agent",
        fallback="block",
        agent_calls=1,
        extracted=[{"total": 3}],
        actions=[
            act("input_text", "/html/body/form/input[1]", text="ada", source="agent"),
            act("click", "/html/body/form/button", source="agent"),
            act("extract", None, source="agent"),
        ],
    )
    attempt = BlockRecord(
        "sign in",
        None,
        parent=portal,
        url=LOGIN,
        block_type="login",
        fallback="element",
        status="failed",
        finished_at=AT,
        actions=sign_in_actions()[:3],
    )

    child, parent = blocks(emitted((attempt, portal)))

    assert (child["label"], child["block_type"], child["executed_with"]) == (
        "portal",
        "task",
        "agent",
    )
    assert child["parent_workflow_run_block_id"] == parent["workflow_run_block_id"]
    assert [a["xpath"] for a in child["actions"]] == [
        "/html/body/form/input[1]",
        "/html/body/form/button",
        None,
    ]
    assert child["output"] == {"total": 3}
    assert child["task"]["url"] is None  # the task_v2's function opens its start page
    assert (parent["fallback"], parent["executed_with"], parent["actions"]) == (
        "block",
        "agent",
        [],
    )

    (run,) = runs_from_raw(emitted((attempt, portal)))
    assert repair_labels(run) == {"portal"}
    main = generate_script(run, frozenset({"portal"}), {}).files["main.py"].decode()
    assert "@block('portal', block_type='task', child=True)" in main
    assert "/html/body/form/button" in main and "'//go'" not in main


def test_an_agent_run_of_a_task_v2_teaches_its_function() -> None:
    portal = BlockRecord(
        "portal",
        None,
        url="about:blank",
        finished_at=AT,
        executed_with="agent",
        agent_calls=1,
        actions=[act("click", "/html/body/form/button", source="agent")],
    )

    (run,) = runs_from_raw(emitted((portal,), run_with="agent"))

    assert executed_labels(run) == {"portal"}
    main = generate_script(run, frozenset({"portal"}), {}).files["main.py"].decode()
    assert "await page.click('/html/body/form/button'" in main


def test_the_replay_journals_each_helper_call_as_a_child_of_its_task_v2(
    tmp_path: Path,
) -> None:
    """The golden task_v2 recording's script, run against RecordingPage: the journal holds
    each helper call as a child of the block (or nested child) that called it."""
    (run,) = runs_from_jsonl(GOLDEN / "task_v2_children.jsonl")
    module = load_script(generate_script(run, executed_labels(run), {}).files, tmp_path)
    journal = Journal()
    instrument(module, journal)
    page = RecordingPage()

    asyncio.run(module.run_workflow(page, InMemoryRunContext(page)))

    shape = [
        (r.label, r.block_type, None if r.parent is None else r.parent.label)
        for r in journal.records
    ]
    assert shape == [
        ("open search", "navigation", "research"),
        ("sort", "action", "compare"),
        ("compare", "task_v2", "research"),
        ("read cheapest", "extraction", "research"),
        ("research", None, None),
    ]
    assert [c.method for c in page.calls].count("extract") == 1


def test_a_nested_task_v2_child_that_fell_back_marks_both_task_v2s_and_repairs_the_top() -> None:
    portal = BlockRecord("portal", None, finished_at=AT)
    nested = BlockRecord("compare", None, parent=portal, block_type="task_v2", finished_at=AT)
    sort = BlockRecord(
        "sort",
        None,
        parent=nested,
        url=LOGIN,
        block_type="action",
        fallback="element",
        finished_at=AT,
        actions=[
            act("click", "//th", status="failed"),
            act("click", "/html/body/table/tr/th[2]", source="agent"),
        ],
    )

    out = blocks(emitted((sort, nested, portal)))

    assert [(b["label"], b["fallback"]) for b in out] == [
        ("sort", "element"),
        ("compare", "element"),
        ("portal", "element"),
    ]
    assert out[0]["parent_workflow_run_block_id"] == out[1]["workflow_run_block_id"]
    assert out[1]["parent_workflow_run_block_id"] == out[2]["workflow_run_block_id"]
    (run,) = runs_from_raw(emitted((sort, nested, portal)))
    assert repair_labels(run) == {"portal"}
    main = generate_script(run, frozenset({"portal"}), {}).files["main.py"].decode()
    assert "/html/body/table/tr/th[2]" in main and "'//th'" not in main
