"""A browser-use Agent's saved history as a definition and events (worker/producers/
browser_use.py), from a history the real Agent wrote (tests/browser_use/histories/portal.json:
browser-use 0.13.14 on the order portal, tests/browser_use/portal.py's task, Alice's run).
browser_use itself is not needed here."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.support.services import ROOT
from worker.cli.main import main
from worker.domain.events import parse_event
from worker.producers.browser_use import (
    TaskRun,
    descriptor,
    import_runs,
    task_of,
    templated,
    typed_value,
)

HISTORY_FILE = ROOT / "tests" / "browser_use" / "histories" / "portal.json"
HISTORY: dict[str, Any] = json.loads(HISTORY_FILE.read_text(encoding="utf-8"))
# browser-use 0.13.14 on Django's admin (tests/browser_use/desk.py's task, the clerk's run).
DESK: dict[str, Any] = json.loads((HISTORY_FILE.parent / "desk.json").read_text(encoding="utf-8"))
ALICE = {"username": "alice@shop.test", "order_number": "A-1002", "reason": "Arrived damaged"}
PASSWORD = "alice-pw-7Qx!"  # what the Agent typed for <secret>portal_password</secret>


def imported(**options: Any) -> Any:
    return import_runs(
        [TaskRun(HISTORY)],
        workflow_permanent_id="wpid_bu",
        parameters=options.pop("parameters", ALICE),
        **options,
    )


def block_event(events: list[dict[str, Any]]) -> dict[str, Any]:
    (block,) = [e for e in events if e["type"] == "block_completed"]
    return block


def test_the_events_are_valid_events_of_the_contract() -> None:
    events = imported().events
    assert [e["type"] for e in events] == ["run_started", "block_completed", "run_finished"]
    for event in events:
        parse_event(event)
    assert events[0]["run_with"] == "agent" and events[2]["status"] == "completed"
    assert len({e["event_id"] for e in events}) == 3


def test_one_agent_run_is_one_task_block_whose_goal_and_url_are_templates() -> None:
    (block,) = imported().definition["blocks"]
    assert block["label"] == "task" and block["block_type"] == "task"
    assert block["url"].endswith("/login")
    goal = block["navigation_goal"]
    assert "{{ username }}" in goal and "{{ order_number }}" in goal and "{{ reason }}" in goal
    assert "{{ portal_password }}" in goal and "alice" not in goal and "A-1002" not in goal
    assert "data_extraction_goal" not in block  # the run's, not the workflow's: below
    task = block_event(imported().events)["task"]
    assert task["data_extraction_goal"] == "the order status and total"


def test_the_sensitive_data_key_is_a_credential_parameter_and_the_rest_are_workflow_ones() -> None:
    parameters = imported().definition["parameters"]
    assert {p["key"]: p["parameter_type"] for p in parameters} == {
        "username": "workflow",
        "order_number": "workflow",
        "reason": "workflow",
        "portal_password": "credential",
    }


def test_the_actions_are_mapped_in_order_with_their_values_bound() -> None:
    actions = block_event(imported().events)["actions"]
    assert [(a["action_type"], a["parameter_key"]) for a in actions] == [
        ("click", None),  # the cookie banner (the leading navigate is the block's url)
        ("input_text", "username"),
        ("input_text", "portal_password"),
        ("click", None),
        ("input_text", "order_number"),
        ("click", None),
        ("extract", None),
        ("goto_url", None),
        ("select_option", "reason"),
        ("click", None),
        ("complete", None),
    ]
    password = actions[2]
    assert password["text"] is None and password["xpath"] == "/html/body/form/label[2]/input"
    assert actions[8]["option"] == "Arrived damaged"
    assert actions[7]["text"].endswith("/refunds/new")
    assert actions[0]["intention"] == "Dismiss the cookie banner"


def test_elements_are_described_as_the_runtime_describes_them() -> None:
    actions = block_event(imported().events)["actions"]
    assert actions[0]["element"] == {
        "tag": "button",
        "text": "Dismiss cookie banner",  # DESCRIBE_JS: a button's aria-label first
        "aria_label": "Dismiss cookie banner",
        "type": "button",
    }
    assert actions[1]["element"] == {
        "tag": "input",
        "text": None,  # its accessible name may not be its label's text: not expected
        "name": "username",
        "type": "text",
        "label": "Username",
    }
    assert actions[4]["element"]["text"] == "Order number"  # its name is its placeholder
    assert actions[8]["element"]["text"] is None and actions[8]["element"]["id"] == "reason"
    submit = {"node_name": "INPUT", "attributes": {"type": "submit", "value": "Log in"}}
    assert descriptor({**submit, "ax_name": "Log in"}) == {
        "tag": "input",
        "text": "Log in",
        "type": "submit",
        "value": "Log in",
    }


def test_on_django_admin_the_fields_are_expected_by_attributes_and_links_by_their_text() -> None:
    clerk = {"username": "clerk", "order_number": "SO-1002", "status": "Refunded"}
    done = import_runs([TaskRun(DESK)], workflow_permanent_id="w", parameters=clerk)
    actions = block_event(done.events)["actions"]
    kinds = [(a["action_type"], a["parameter_key"]) for a in actions]
    assert kinds == [
        ("input_text", "username"),
        ("input_text", "desk_password"),
        ("click", None),
        ("goto_url", None),
        ("input_text", "order_number"),
        ("click", None),
        ("click", None),
        ("select_option", "status"),
        ("click", None),
        ("complete", None),
    ]
    search = actions[4]["element"]  # its label holds an image whose alt names it
    assert search["text"] is None and search["id"] == "searchbar" and search["name"] == "q"
    assert actions[6]["element"]["tag"] == "a" and actions[6]["element"]["text"] == "SO-1002"
    assert actions[8]["element"]["text"] == "Save" and actions[8]["element"]["name"] == "_save"


def test_the_page_and_the_extracted_output_are_recorded() -> None:
    block = block_event(imported().events)
    assert block["page"]["url"].endswith("/refunds")
    assert block["output"] == {"status": "delivered", "total": "18.50"}


def test_no_secret_value_reaches_the_events_or_the_definition() -> None:
    done = imported(sensitive_data={"portal_password": PASSWORD})
    assert PASSWORD not in json.dumps(done.events) + json.dumps(done.definition)
    leaky = copy.deepcopy(HISTORY)  # the value typed in clear, and inside a memory
    step = leaky["history"][2]
    step["model_output"]["action"][1]["input"]["text"] = PASSWORD
    step["model_output"]["memory"] = f"typed {PASSWORD} into the form"
    out = import_runs(
        [TaskRun(leaky)],
        workflow_permanent_id="wpid_bu",
        parameters=ALICE,
        sensitive_data={"portal_password": PASSWORD},
    )
    assert PASSWORD not in json.dumps(out.events)
    actions = block_event(out.events)["actions"]
    assert actions[2]["parameter_key"] == "portal_password"


def test_a_placeholder_inside_other_text_is_redacted_not_typed() -> None:
    keys = {"pw"}
    assert typed_value("<secret>pw</secret>", {}, keys) == (None, "pw")
    assert typed_value("x <secret>pw</secret>", {}, keys) == ("x <redacted>", None)
    assert typed_value("alice@shop.test", ALICE, keys) == ("alice@shop.test", "username")
    assert typed_value("someone else", ALICE, keys) == ("someone else", None)


def test_a_value_is_templated_only_at_word_boundaries() -> None:
    assert templated("order A-1002 now", {"o": "A-1002"}) == "order {{ o }} now"
    assert templated("EUROPE", {"c": "EUR"}) == "EUROPE"
    assert templated("go", {"x": "go"}) == "go"  # under 3 characters: left alone


def test_the_task_is_read_from_the_history_when_not_given() -> None:
    task = task_of(HISTORY)
    assert task is not None and task.startswith("Sign in at http://127.0.0.1:")
    given = import_runs([TaskRun(HISTORY, "Refund {{ x }}")], workflow_permanent_id="w")
    assert given.definition["blocks"][0]["navigation_goal"] == "Refund {{ x }}"


def test_actions_browser_use_did_not_execute_are_left_out() -> None:
    cut = copy.deepcopy(HISTORY)
    cut["history"][2]["result"] = cut["history"][2]["result"][:1]  # the sequence stopped
    actions = block_event(import_runs([TaskRun(cut)], workflow_permanent_id="w").events)["actions"]
    assert [a["action_type"] for a in actions[:3]] == ["click", "input_text", "input_text"]
    assert len(actions) == 9


def test_a_run_that_did_not_finish_is_a_failed_block_and_run() -> None:
    unfinished = {"history": HISTORY["history"][:-1]}
    events = import_runs([TaskRun(unfinished)], workflow_permanent_id="w").events
    assert block_event(events)["status"] == "failed" and events[-1]["status"] == "failed"


def test_the_same_history_imports_as_the_same_run() -> None:
    assert imported().events == imported().events


def test_a_run_still_going_is_its_run_started_with_the_definition_of_the_finished_run() -> None:
    first_steps = {"history": HISTORY["history"][:2]}
    going = import_runs(
        [TaskRun(first_steps)],
        workflow_permanent_id="w",
        parameters=ALICE,
        workflow_run_id="r",
        finished=False,
    )
    done = import_runs(
        [TaskRun(HISTORY)], workflow_permanent_id="w", parameters=ALICE, workflow_run_id="r"
    )
    assert going.events == done.events[:1]


def test_an_unknown_browser_use_action_is_recorded_under_its_own_name() -> None:
    element: dict[str, Any] = {"node_name": "A", "attributes": {"href": "/x"}, "ax_name": "X"}
    assert descriptor(element) == {"tag": "a", "text": "X", "href": "/x"}
    other = copy.deepcopy(HISTORY)
    other["history"][4]["model_output"]["action"] = [{"search_page": {"pattern": "Total"}}]
    actions = block_event(import_runs([TaskRun(other)], workflow_permanent_id="w").events)[
        "actions"
    ]
    assert "search_page" in [a["action_type"] for a in actions]


def test_a_parameter_named_like_a_sensitive_key_is_refused() -> None:
    with pytest.raises(ValueError, match="portal_password"):
        imported(parameters={"portal_password": "x"})


def test_the_command_writes_the_events(tmp_path: Path) -> None:
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "import", "browser-use", str(HISTORY_FILE), "--workflow-id", "wpid_bu",
            "--params", json.dumps(ALICE), "--emit", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == imported().events


def test_the_command_refuses_a_file_that_is_not_a_history(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    result = CliRunner().invoke(main, ["import", "browser-use", str(bad), "--workflow-id", "w"])
    assert result.exit_code == 1 and "not a browser-use history" in result.output


def test_importing_the_mapping_imports_neither_browser_use_nor_a_database() -> None:
    probe = "import worker.producers.browser_use, sys; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    loaded = {name.split(".")[0] for name in out.split()}
    assert loaded.isdisjoint({"browser_use", "sqlalchemy", "celery", "playwright"})


def test_several_agent_runs_are_blocks_in_order_of_one_run(tmp_path: Path) -> None:
    second = tmp_path / "second.json"
    second.write_text(json.dumps(DESK), encoding="utf-8")
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(
        main,
        [
            "import", "browser-use", str(HISTORY_FILE), str(second), "--workflow-id", "w",
            "--label", "refund", "--emit", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [e["type"] for e in events] == [
        "run_started",
        "block_completed",
        "block_completed",
        "run_finished",
    ]
    labels = [b["label"] for b in events[0]["definition"]["blocks"]]
    assert labels == ["refund", "task_2"] == [e["label"] for e in events[1:3]]
    assert events[1]["workflow_run_block_id"] != events[2]["workflow_run_block_id"]
    keys = {p["key"] for p in events[0]["definition"]["parameters"]}
    assert {"portal_password", "desk_password"} <= keys  # each history's placeholders
