"""Event models, validation and redaction (worker/domain/events.py)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.keys import SEAL_KEY
from worker.domain.errors import PermanentError
from worker.domain.events import (
    REDACTED,
    BlockCompleted,
    RunFinished,
    RunStarted,
    parse_event,
    parse_line,
)
from worker.domain.lines import read_lines
from worker.secrets.redaction import redact_event, redact_raw
from worker.secrets.seals import Secrets, is_sealed

SAMPLE = Path(__file__).resolve().parents[2] / "worker" / "samples" / "order-portal.jsonl"
SECRET = "not-a-real-secret"


def sample_events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_lines(SAMPLE.read_text(encoding="utf-8"))]


def first(event_type: str, **where: Any) -> dict[str, Any]:
    for raw in sample_events():
        if raw["type"] == event_type and all(raw.get(k) == v for k, v in where.items()):
            return raw
    raise LookupError(event_type)


@pytest.fixture
def run_started() -> dict[str, Any]:
    return first("run_started")


@pytest.fixture
def sign_in() -> dict[str, Any]:
    return first("block_completed", label="sign_in")


# --- the sample validates --------------------------------------------------------------------


def test_every_line_of_the_sample_validates_into_its_event_type() -> None:
    models = {
        "run_started": RunStarted,
        "block_completed": BlockCompleted,
        "run_finished": RunFinished,
    }
    lines = read_lines(SAMPLE.read_text(encoding="utf-8"))

    events = [parse_line(line) for line in lines]

    assert len(events) == 26
    for line, event in zip(lines, events, strict=True):
        raw = json.loads(line)
        assert isinstance(event, models[raw["type"]])
        assert event.event_id == raw["event_id"]
    assert {type(e) for e in events} == set(models.values())


def test_a_run_started_event_carries_its_definition_and_parameters(
    run_started: dict[str, Any],
) -> None:
    event = parse_event(run_started)

    assert isinstance(event, RunStarted)
    assert event.workflow_version == 1
    assert [b.label for b in event.definition.blocks] == [
        "sign_in",
        "each_order",
        "route",
        "settle",
    ]
    assert event.definition.credential_keys() == {"password"}
    assert event.parameters["order_numbers"] == ["A-1001", "A-1002", "A-1003"]
    assert event.code_gen is False
    assert event.occurred_at.tzinfo is not None


def test_a_block_completed_event_carries_its_task_and_ordered_actions(
    sign_in: dict[str, Any],
) -> None:
    event = parse_event(sign_in)

    assert isinstance(event, BlockCompleted)
    assert event.task is not None and event.task.task_id == "tsk_wr_portal_1_002"
    assert [a.action_type for a in event.actions] == [
        "input_text",
        "input_text",
        "click",
        "complete",
    ]
    assert event.actions[1].parameter_key == "password"


def test_parse_line_accepts_bytes() -> None:
    line = read_lines(SAMPLE.read_text(encoding="utf-8"))[-1]

    event = parse_line(line.encode("utf-8"))

    assert isinstance(event, RunFinished)
    assert event.status == "completed"


# --- missing fields and wrong types ----------------------------------------------------------


def _without(raw: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    target = raw
    for step in path[:-1]:
        target = target[step]
    del target[path[-1]]
    return raw


def _with(raw: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    target = raw
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return raw


MISSING = [
    ("run_started", ("workflow_version",), "workflow_version"),
    ("run_started", ("workflow_permanent_id",), "workflow_permanent_id"),
    ("run_started", ("workflow_run_id",), "workflow_run_id"),
    ("run_started", ("definition",), "definition"),
    ("run_started", ("event_id",), "event_id"),
    ("run_started", ("occurred_at",), "occurred_at"),
    ("run_started", ("definition", "blocks", 0, "label"), "definition.blocks.0.label"),
    (
        "run_started",
        ("definition", "parameters", 2, "parameter_type"),
        "definition.parameters.2.parameter_type",
    ),
    ("block_completed", ("label",), "label"),
    ("block_completed", ("status",), "status"),
    ("block_completed", ("workflow_run_block_id",), "workflow_run_block_id"),
    ("block_completed", ("actions", 0, "action_id"), "actions.0.action_id"),
    ("block_completed", ("task", "task_id"), "task.task_id"),
    ("run_finished", ("status",), "status"),
]


@pytest.mark.parametrize(
    ("event_type", "path", "field"), MISSING, ids=[f"{t}-{f}" for t, _, f in MISSING]
)
def test_a_missing_field_is_a_permanent_error_naming_it(
    event_type: str, path: tuple[Any, ...], field: str
) -> None:
    raw = _without(first(event_type), path)

    with pytest.raises(PermanentError) as caught:
        parse_event(raw)

    assert f"{field}: Field required" in str(caught.value)


WRONG_TYPES = [
    ("run_started", ("workflow_version",), "1", "workflow_version"),
    ("run_started", ("workflow_version",), 1.5, "workflow_version"),
    ("run_started", ("workflow_version",), -1, "workflow_version"),
    ("run_started", ("workflow_version",), 2**31, "workflow_version"),
    ("run_started", ("code_gen",), "yes", "code_gen"),
    ("run_started", ("run_with",), "robot", "run_with"),
    ("run_started", ("parameters",), ["a"], "parameters"),
    ("run_started", ("occurred_at",), "yesterday", "occurred_at"),
    ("run_started", ("definition", "blocks"), {"label": "x"}, "definition.blocks"),
    ("block_completed", ("status",), "done", "status"),
    ("block_completed", ("executed_with",), "human", "executed_with"),
    ("block_completed", ("loop_index",), "0", "loop_index"),
    ("block_completed", ("loop_index",), 2**31, "loop_index"),
    ("block_completed", ("actions",), {"0": {}}, "actions"),
    ("block_completed", ("actions", 0, "text"), 42, "actions.0.text"),
    ("block_completed", ("block_type",), "x" * 65, "block_type"),
    ("block_completed", ("actions", 0, "action_type"), "x" * 65, "actions.0.action_type"),
    ("block_completed", ("actions", 0, "status"), "x" * 33, "actions.0.status"),
    ("block_completed", ("workflow_run_block_id",), "x" * 257, "workflow_run_block_id"),
    ("block_completed", ("label",), "", "label"),
    ("run_finished", ("status",), "running", "status"),
    ("run_finished", ("workflow_run_id",), None, "workflow_run_id"),
]


@pytest.mark.parametrize(
    ("event_type", "path", "value", "field"),
    WRONG_TYPES,
    ids=[f"{t}-{f}-{v!r}"[:60] for t, _, v, f in WRONG_TYPES],
)
def test_a_field_of_the_wrong_type_or_range_is_a_permanent_error_naming_it(
    event_type: str, path: tuple[Any, ...], value: Any, field: str
) -> None:
    raw = _with(first(event_type), path, value)

    with pytest.raises(PermanentError) as caught:
        parse_event(raw)

    assert f"{field}: " in str(caught.value)


def test_the_error_names_the_event_type_and_id(run_started: dict[str, Any]) -> None:
    with pytest.raises(PermanentError) as caught:
        parse_event(_without(run_started, ("workflow_version",)))

    assert str(caught.value).startswith("invalid run_started 'evt_wr_portal_1_001':")


@pytest.mark.parametrize("event_type", [None, "run_stopped", 3])
def test_an_unknown_or_missing_event_type_is_a_permanent_error(event_type: Any) -> None:
    raw = first("run_finished")
    raw["type"] = event_type

    with pytest.raises(PermanentError, match="type"):
        parse_event(raw)


@pytest.mark.parametrize("raw", [None, [], "run_started", 7, [{"type": "run_finished"}]])
def test_a_payload_that_is_not_an_object_is_a_permanent_error(raw: Any) -> None:
    with pytest.raises(PermanentError, match="expected a JSON object"):
        parse_event(raw)


# --- extra fields, definitions ---------------------------------------------------------------


def test_unknown_extra_fields_are_kept(run_started: dict[str, Any]) -> None:
    raw = copy.deepcopy(run_started)
    raw["producer"] = {"name": "acme", "build": 7}
    raw["definition"]["blocks"][3]["note"] = "kept verbatim"

    event = parse_event(raw)

    assert isinstance(event, RunStarted)
    assert event.model_extra == {"producer": {"name": "acme", "build": 7}}
    assert event.definition.blocks[3].model_extra == {"seconds": 2, "note": "kept verbatim"}


def test_unknown_extra_fields_of_actions_are_kept(sign_in: dict[str, Any]) -> None:
    raw = _with(sign_in, ("actions", 2, "frame"), "main")

    event = parse_event(raw)

    assert isinstance(event, BlockCompleted)
    assert event.actions[2].model_extra == {"frame": "main"}


def test_an_unknown_block_type_in_a_definition_is_kept(run_started: dict[str, Any]) -> None:
    raw = _with(
        run_started, ("definition", "blocks", 1, "loop_blocks", 0, "block_type"), "teleport"
    )

    event = parse_event(raw)

    assert isinstance(event, RunStarted)
    assert event.definition.blocks[1].loop_blocks[0].block_type == "teleport"


@pytest.mark.parametrize(
    "path",
    [
        ("definition", "blocks", 3, "label"),  # top level
        ("definition", "blocks", 1, "loop_blocks", 1, "label"),  # inside a loop
        ("definition", "blocks", 2, "branches", 1, "blocks", 0, "label"),  # inside a branch
    ],
    ids=["top-level", "loop-child", "branch-block"],
)
def test_a_duplicate_label_anywhere_in_a_definition_is_an_error(
    run_started: dict[str, Any], path: tuple[Any, ...]
) -> None:
    raw = _with(run_started, path, "sign_in")

    with pytest.raises(PermanentError, match="duplicate block label 'sign_in'"):
        parse_event(raw)


# --- what the database cannot store ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("parameters", "username"), "ops\x00@acme.test"),
        (("parameters", "username"), "ops\ud800"),
        (("definition", "title"), "\udfff title"),
        (("parameters", "weird\x00key"), "x"),
        (("parameters", "ratio"), float("nan")),
        (("parameters", "ratio"), float("inf")),
        (("definition", "blocks", 3, "seconds"), float("-inf")),
    ],
    ids=[
        "nul",
        "lone-high-surrogate",
        "lone-low-surrogate",
        "nul-in-key",
        "nan",
        "infinity",
        "negative-infinity",
    ],
)
def test_values_the_database_cannot_store_are_permanent_errors(
    run_started: dict[str, Any], path: tuple[Any, ...], value: Any
) -> None:
    with pytest.raises(PermanentError) as caught:
        parse_event(_with(run_started, path, value))

    assert str(caught.value)


def test_a_nul_escape_in_a_json_line_is_a_permanent_error() -> None:
    line = json.dumps(first("run_finished") | {"note": "a\u0000b"})

    assert "\\u0000" in line
    with pytest.raises(PermanentError, match="NUL"):
        parse_line(line)


def test_a_lone_surrogate_escape_in_a_json_line_is_a_permanent_error() -> None:
    line = json.dumps(first("run_finished") | {"note": "\ud83d"})

    with pytest.raises(PermanentError, match="surrogate"):
        parse_line(line)


def test_nan_in_a_json_line_is_a_permanent_error() -> None:
    line = json.dumps(first("run_finished") | {"note": float("nan")})

    assert "NaN" in line
    with pytest.raises(PermanentError):
        parse_line(line)


@pytest.mark.parametrize(
    "data",
    [b'{"type": "run_finished", "x": "\xff"}', b"\xc3\x28", b'{"a": "\xed\xa0\x80"}'],
    ids=["stray-byte", "bad-continuation", "encoded-surrogate"],
)
def test_invalid_utf8_bytes_are_a_permanent_error(data: bytes) -> None:
    with pytest.raises(PermanentError, match="invalid UTF-8"):
        parse_line(data)


@pytest.mark.parametrize(
    "line",
    [
        '{"type": "run_finished"',
        "not json",
        "",
        "{'single': 'quotes'}",
        '{"a": 1} trailing',
        "[" * 100_000,
    ],
    ids=["truncated", "text", "empty", "single-quotes", "trailing-data", "deep-nesting"],
)
def test_invalid_json_is_a_permanent_error(line: str) -> None:
    with pytest.raises(PermanentError) as caught:
        parse_line(line)

    assert str(caught.value).startswith("event: ")


def test_nesting_deeper_than_the_limit_is_a_permanent_error(run_started: dict[str, Any]) -> None:
    deep: Any = "bottom"
    for _ in range(100):
        deep = [deep]

    with pytest.raises(PermanentError, match="nested deeper"):
        parse_event(_with(run_started, ("parameters", "deep"), deep))


# --- JSON Lines ------------------------------------------------------------------------------


def test_read_lines_splits_on_newline_only() -> None:
    one = json.dumps({"text": "a\u2028b\u2029c\x85d\x0be\x0cf\rg"}, ensure_ascii=False)
    two = json.dumps({"text": "second"})
    data = f"{one}\n\n  \n{two}\n"

    lines = read_lines(data)

    assert lines == [one, two]
    assert json.loads(lines[0])["text"] == "a\u2028b\u2029c\x85d\x0be\x0cf\rg"
    assert len(data.splitlines()) > len(lines) + 3  # str.splitlines would have broken it


def test_a_line_separator_inside_a_sample_string_survives_parsing(sign_in: dict[str, Any]) -> None:
    raw = _with(sign_in, ("actions", 2, "intention"), "Submit\u2028the form")
    data = json.dumps(raw, ensure_ascii=False) + "\n" + json.dumps(first("run_finished")) + "\n"

    events = [parse_line(line) for line in read_lines(data)]

    assert len(events) == 2
    assert isinstance(events[0], BlockCompleted)
    assert events[0].actions[2].intention == "Submit\u2028the form"


# --- redaction -------------------------------------------------------------------------------


def test_redact_event_removes_credential_parameter_values(run_started: dict[str, Any]) -> None:
    event = parse_event(run_started)

    redacted = redact_event(event)

    assert "password" not in redacted.parameters
    assert redacted.parameters["username"] == "ops@acme.test"
    assert SECRET not in redacted.model_dump_json()
    assert event.parameters["password"] == SECRET  # the original is unchanged


def test_redact_event_removes_texts_typed_from_a_parameter(sign_in: dict[str, Any]) -> None:
    event = parse_event(sign_in)

    redacted = redact_event(event)

    assert [a.text for a in redacted.actions] == [None, None, None, None]
    assert [a.parameter_key for a in redacted.actions] == ["username", "password", None, None]
    assert SECRET not in redacted.model_dump_json()


def test_redact_event_keeps_literal_texts_that_came_from_no_parameter() -> None:
    event = parse_event(first("block_completed", label="open_order"))

    redacted = redact_event(event)

    assert [a.text for a in redacted.actions] == ["A-1001", "Enter", None]


def test_redact_event_leaves_run_finished_alone() -> None:
    event = parse_event(first("run_finished"))

    assert redact_event(event) == event


def test_redact_raw_redacts_credentials_and_typed_texts_of_a_valid_payload(
    run_started: dict[str, Any], sign_in: dict[str, Any]
) -> None:
    started = redact_raw(run_started, Secrets(seal_key=SEAL_KEY))
    block = redact_raw(sign_in, Secrets(seal_key=SEAL_KEY))

    assert is_sealed(started["parameters"]["password"])
    assert started["parameters"]["username"] == "ops@acme.test"
    assert [a["text"] for a in block["actions"]] == [None, None, None, None]
    assert SECRET not in json.dumps(started) + json.dumps(block)
    assert run_started["parameters"]["password"] == SECRET  # the input is not mutated


MALFORMED_FOR_REDACTION = [
    ("no-definition", lambda r: r.pop("definition")),
    ("definition-not-object", lambda r: r.__setitem__("definition", "v1")),
    ("parameters-not-list", lambda r: r["definition"].__setitem__("parameters", {})),
    ("parameter-without-key", lambda r: r["definition"]["parameters"][0].pop("key")),
    ("parameter-not-object", lambda r: r["definition"]["parameters"].append("password")),
    ("invalid-elsewhere", lambda r: r.__setitem__("workflow_version", "one")),
]


@pytest.mark.parametrize(
    "mutate", [m for _, m in MALFORMED_FOR_REDACTION], ids=[n for n, _ in MALFORMED_FOR_REDACTION]
)
def test_redact_raw_of_a_malformed_run_started_never_keeps_the_credential(
    run_started: dict[str, Any], mutate: Any
) -> None:
    raw = copy.deepcopy(run_started)
    mutate(raw)

    redacted = redact_raw(raw, Secrets(seal_key=SEAL_KEY))

    assert is_sealed(redacted["parameters"]["password"])
    assert SECRET not in json.dumps(redacted)


def test_redact_raw_redacts_every_parameter_when_the_definition_cannot_tell(
    run_started: dict[str, Any],
) -> None:
    raw = _without(run_started, ("definition",))

    redacted = redact_raw(raw, Secrets(seal_key=SEAL_KEY))

    assert all(is_sealed(v) for v in redacted["parameters"].values())


def test_redact_raw_of_malformed_actions_redacts_what_it_can(sign_in: dict[str, Any]) -> None:
    raw = copy.deepcopy(sign_in)
    raw["actions"].append("not an action")
    raw["actions"].append({"parameter_key": "password"})  # no text at all
    raw["task"] = 5

    redacted = redact_raw(raw, Secrets(seal_key=SEAL_KEY))

    assert redacted["actions"][1]["text"] is None
    assert redacted["actions"][4] == "not an action"
    assert redacted["actions"][5] == {"parameter_key": "password"}
    assert SECRET not in json.dumps(redacted)


@pytest.mark.parametrize("raw", [None, "text", 3, ["not-a-real-secret"]])
def test_redact_raw_returns_a_non_object_payload_unchanged(raw: Any) -> None:
    assert redact_raw(raw, Secrets(seal_key=SEAL_KEY)) == raw


def test_redact_raw_redacts_parameters_and_actions_of_the_wrong_shape_whole() -> None:
    raw = {
        "type": "block_completed",
        "parameters": ["a"],
        "actions": {"first": {"text": "typed", "option": "picked", "xpath": "//x"}},
    }

    assert redact_raw(raw, Secrets(seal_key=SEAL_KEY)) == {
        "type": "block_completed",
        "parameters": REDACTED,
        "actions": {"first": {"text": REDACTED, "option": REDACTED, "xpath": "//x"}},
    }


def test_redact_raw_keeps_every_parameter_that_is_not_secret(run_started: dict[str, Any]) -> None:
    raw = copy.deepcopy(run_started)
    raw["definition"]["parameters"].append({"key": "tenant", "parameter_type": "context"})
    raw["definition"]["parameters"].append({"key": "prior", "parameter_type": "output"})
    raw["parameters"].update(tenant="acme", prior={"rows": [1, 2]})

    redacted = redact_raw(raw, Secrets(seal_key=SEAL_KEY))

    assert redacted["parameters"]["tenant"] == "acme"
    assert redacted["parameters"]["prior"] == {"rows": [1, 2]}
    assert is_sealed(redacted["parameters"]["password"])


def test_redact_raw_of_an_event_wrapped_in_a_list_redacts_the_event(
    run_started: dict[str, Any], sign_in: dict[str, Any]
) -> None:
    block = copy.deepcopy(sign_in)
    block["actions"][0]["parameter_key"] = None
    block["actions"][0]["text"] = SECRET  # typed without its key

    redacted = redact_raw([[run_started, block]], Secrets(seal_key=SEAL_KEY))

    assert SECRET not in json.dumps(redacted)
    assert redacted[0][1]["actions"][0]["parameter_key"] == "password"


def test_a_credential_parameters_default_is_redacted_from_the_definition(
    run_started: dict[str, Any],
) -> None:
    raw = run_started
    raw["definition"]["parameters"][2]["default"] = "canary-default-secret"
    assert raw["definition"]["parameters"][2]["parameter_type"] == "credential"
    redacted = redact_event(parse_event(raw))
    dumped = json.dumps(redacted.model_dump(mode="json"))
    assert "canary-default-secret" not in dumped
    assert "not-a-real-secret" not in dumped
