"""The closed loop's event fields (ARCHITECTURE.md §8): run_started.script,
block_completed.fallback, actions[].source and skipped actions; old events stay valid."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from tests.factory import RunBuilder, definition, task_block
from worker.domain.errors import PermanentError
from worker.domain.events import BlockCompleted, RunStarted, parse_event
from worker.domain.schemas import schemas


def replayed_run() -> list[dict[str, Any]]:
    """A run that executed revision 3 of script 7; sign_in fell back for one action."""
    run = RunBuilder(
        "wr_replay", "wf_loop", definition([task_block("sign_in", "login"), task_block("report")])
    )
    run.events[0].update(run_with="code", script={"script_id": 7, "version": 3})
    run.block(
        "sign_in",
        "login",
        executed_with="code",
        actions=[
            {
                "action_type": "click",
                "xpath": "/html/body/div[1]/button",
                "intention": "Close the banner",
                "status": "skipped",
                "source": "agent",
            },
            {
                "action_type": "click",
                "xpath": "//button[@id='go']",
                "intention": "Submit",
                "status": "failed",
                "source": "code",
            },
            {
                "action_type": "click",
                "xpath": "/html/body/form/button",
                "intention": "Submit",
                "source": "agent",
            },
        ],
    )
    run.events[-1]["fallback"] = "element"
    run.block("report", executed_with="agent")
    run.events[-1]["fallback"] = "block"
    return run.finish()


def test_the_new_fields_validate_and_are_read() -> None:
    started, sign_in, report, _ = (parse_event(e) for e in replayed_run())

    assert isinstance(started, RunStarted) and started.script is not None
    assert (started.script.script_id, started.script.version) == (7, 3)
    assert isinstance(sign_in, BlockCompleted) and isinstance(report, BlockCompleted)
    assert (sign_in.fallback, report.fallback) == ("element", "block")
    assert [(a.status, a.source) for a in sign_in.actions] == [
        ("skipped", "agent"),
        ("failed", "code"),
        ("completed", "agent"),
    ]


def test_old_events_without_the_fields_stay_valid_with_their_defaults() -> None:
    events = replayed_run()
    for event in events:
        event.pop("script", None)
        event.pop("fallback", None)
        for action in event.get("actions", []):
            action.pop("source", None)

    started, sign_in, _, _ = (parse_event(e) for e in events)

    assert isinstance(started, RunStarted) and started.script is None
    assert isinstance(sign_in, BlockCompleted) and sign_in.fallback == "none"
    assert all(a.source is None for a in sign_in.actions)


@pytest.mark.parametrize(
    ("where", "value"),
    [
        ("fallback", "partial"),
        ("fallback", None),
        ("script", {"script_id": 7}),
        ("script", {"script_id": "7", "version": 1}),
        ("source", "human"),
    ],
)
def test_bad_values_of_the_new_fields_are_permanent_errors(where: str, value: Any) -> None:
    started, sign_in = replayed_run()[:2]
    target = {"fallback": sign_in, "script": started, "source": sign_in["actions"][0]}[where]
    target[where] = value
    event = started if where == "script" else sign_in

    with pytest.raises(PermanentError, match=where):
        parse_event(event)


def test_the_published_json_schemas_accept_new_and_old_events_alike() -> None:
    published = schemas()
    events = replayed_run()
    old = json.loads(json.dumps(events))
    for event in old:
        event.pop("script", None)
        event.pop("fallback", None)

    for event in [*events, *old]:
        jsonschema.validate(event, published[event["type"]])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(dict(events[1], fallback="partial"), published["block_completed"])
