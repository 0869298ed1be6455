"""A replay's records as producer events (worker/browser/emit.py): pure, no browser."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import jsonschema

from worker.browser.emit import RunInfo, emit_events, parameter_for
from worker.browser.journal import BlockRecord, ReplayResult
from worker.domain.definition import Definition
from worker.domain.events import REDACTED, parse_event
from worker.domain.schemas import schemas

SECRET = "hunter2-secret"
AT = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
DEFINITION = Definition.model_validate(
    {
        "title": "t",
        "cache_key": "default",
        "parameters": [
            {"key": "user", "parameter_type": "workflow"},
            {"key": "password", "parameter_type": "credential"},
            {"key": "orders", "parameter_type": "workflow"},
        ],
        "blocks": [
            {
                "label": "sign_in",
                "block_type": "login",
                "url": "https://shop.test/login",
                "navigation_goal": "Sign in",
            },
            {
                "label": "each",
                "block_type": "for_loop",
                "loop_over": "orders",
                "loop_blocks": [
                    {"label": "open", "block_type": "navigation", "url": "https://shop.test/o"}
                ],
            },
        ],
    }
)


def act(kind: str, xpath: str, **fields: object) -> dict[str, object]:
    return {
        "action_type": kind,
        "xpath": xpath,
        "intention": f"{kind} {xpath}",
        "status": "completed",
        "source": "code",
        **fields,
    }


def replayed() -> ReplayResult:
    sign_in = BlockRecord(
        "sign_in",
        None,
        url="https://shop.test/login",
        fallback="element",
        finished_at=AT,
        actions=[
            act("input_text", "//u", text="ada"),
            act("input_text", "//p", parameter_key="password"),
            act("click", "//go", status="failed"),
            act("click", "/html/body/button", source="agent", intention=f"not {SECRET}"),
        ],
    )
    loop = BlockRecord("each", None, finished_at=AT)
    child = BlockRecord(
        "open",
        0,
        "A-1",
        loop,
        finished_at=AT,
        executed_with="agent",
        fallback="block",
        actions=[act("click", "/a", source="agent")],
    )
    return ReplayResult(
        (), (), (), 1.0, records=(sign_in, child, loop), started_at=AT, finished_at=AT
    )


def events() -> list[dict[str, object]]:
    info = RunInfo(
        "wf",
        3,
        7,
        2,
        {"user": "ada", "orders": ["A-1"], "password": SECRET},
        {"password": SECRET},
        "wr_emit",
    )
    return emit_events(replayed(), DEFINITION, info)


def test_the_events_are_a_complete_run_in_the_producer_contract() -> None:
    out = events()

    assert [e["type"] for e in out] == ["run_started", *["block_completed"] * 3, "run_finished"]
    for event in out:
        jsonschema.validate(event, schemas()[str(event["type"])])
        parse_event(event)
    started, sign_in, child, loop, _ = out
    assert (started["run_with"], started["script"]) == ("code", {"script_id": 7, "version": 2})
    assert started["parameters"] == {"user": "ada", "orders": ["A-1"]}
    assert child["parent_workflow_run_block_id"] == loop["workflow_run_block_id"]
    assert (child["loop_index"], child["loop_value"], child["fallback"]) == (0, "A-1", "block")
    assert (loop["parent_workflow_run_block_id"], loop["actions"]) == (None, [])
    assert sign_in["task"]["url"] == "https://shop.test/login"  # type: ignore[index]


def test_typed_values_name_their_parameter_and_no_credential_is_left() -> None:
    sign_in = events()[1]
    actions = sign_in["actions"]
    assert isinstance(actions, list)

    assert [a["parameter_key"] for a in actions] == ["user", "password", None, None]
    assert [a["source"] for a in actions] == ["code", "code", "code", "agent"]
    assert actions[3]["intention"] == f"not {REDACTED}"
    assert SECRET not in json.dumps(events())


def test_a_value_names_a_parameter_only_when_equal() -> None:
    params = {"b": "xyz", "a": "xyz", "n": 4242, "flag": True, "list": ["xyz"]}

    assert parameter_for("xyz", params) == "a"
    assert parameter_for("4242", params) == "n"
    assert parameter_for("True", params) is None
    assert parameter_for("xy", params) is None
    assert parameter_for(None, params) is None


def test_a_short_value_names_a_parameter_only_when_the_blocks_definition_mentions_it() -> None:
    params = {"b": "x", "a": "x", "n": 42}

    assert parameter_for("x", params) is None
    assert parameter_for("42", params) is None
    assert parameter_for("x", params, frozenset({"b"})) == "b"
    assert parameter_for("x", params, frozenset({"a", "b"})) == "a"
    assert parameter_for("42", params, frozenset({"n"})) == "n"
