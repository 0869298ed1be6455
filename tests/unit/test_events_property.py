"""parse_event never crashes: any JSON value gives an event or a PermanentError with a message."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.examples import examples
from worker.domain.errors import PermanentError
from worker.domain.events import BlockCompleted, RunFinished, RunStarted, parse_event, parse_line

SAMPLE = Path(__file__).resolve().parents[2] / "worker" / "samples" / "order-portal.jsonl"
SAMPLES = [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").split("\n") if line]
# One of each shape: run_started, a block with a task and actions, a loop, run_finished.
SEEDS = [SAMPLES[0], SAMPLES[1], SAMPLES[8], SAMPLES[-1]]
EVENT_TYPES = (RunStarted, BlockCompleted, RunFinished)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
# Objects that look like events, so validation goes past the discriminator.
event_like = st.fixed_dictionaries(
    {"type": st.sampled_from(["run_started", "block_completed", "run_finished", "other"])},
    optional={
        "event_id": json_values,
        "occurred_at": json_values,
        "workflow_run_id": json_values,
        "status": json_values,
        "definition": json_values,
        "actions": json_values,
    },
)


def outcome(raw: Any) -> None:
    try:
        event = parse_event(raw)
    except PermanentError as exc:
        assert str(exc).strip()
    else:
        assert isinstance(event, EVENT_TYPES)


@settings(max_examples=examples(1500), deadline=None)
@given(json_values | event_like)
def test_any_json_value_parses_or_is_a_permanent_error(raw: Any) -> None:
    outcome(raw)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside a JSON document (dict keys and list indices)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(_paths(item, (*prefix, index)))
    return found


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    raw = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(raw)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = raw
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_values)
    return raw


@settings(max_examples=examples(1500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_events())
def test_sample_events_with_fields_dropped_or_replaced_parse_or_fail_cleanly(
    raw: dict[str, Any],
) -> None:
    outcome(raw)


@settings(max_examples=examples(300), deadline=None)
@given(st.binary(max_size=64) | st.text(max_size=64))
def test_any_line_of_bytes_or_text_parses_or_is_a_permanent_error(line: bytes | str) -> None:
    try:
        event = parse_line(line)
    except PermanentError as exc:
        assert str(exc).strip()
    else:
        assert isinstance(event, EVENT_TYPES)


def test_the_unmutated_seeds_parse() -> None:
    assert [type(parse_event(copy.deepcopy(s))) for s in SEEDS] == [
        RunStarted,
        BlockCompleted,
        BlockCompleted,
        RunFinished,
    ]
