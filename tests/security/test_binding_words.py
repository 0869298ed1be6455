"""Issue 23, item 1: a recorded value binds to a parameter only at word boundaries, a selector
only to the loop's value and the parameters its block's definition mentions, and a replay's
emitted actions name a parameter by the same rules (ARCHITECTURE.md §9). Pure: no services."""

from __future__ import annotations

import ast
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.recordings import Recorder, act, defn, param
from worker.browser.emit import parameter_for
from worker.domain.codegen import generate_script
from worker.domain.codegen.values import RunValues
from worker.domain.decision import executed_labels


def bind(raw: str, parameters: dict[str, Any], mentioned: frozenset[str] = frozenset()) -> str:
    binder = RunValues(parameters).binder(None, False, mentioned, {})
    return ast.unparse(binder.bind(raw).expr)


@pytest.mark.parametrize(
    ("raw", "parameters"),
    [
        ("EUROPE", {"currency": "EUR"}),
        ("that is untrue", {"gift": True}),
        ("1000 Main Street", {"count": 100}),
        ("devops@acme.example", {"env": "dev"}),
        ("order_1234_x", {"pin_hint": 1234}),
        ("PARISIAN", {"city": "PARIS"}),
        ("ébène", {"x": "bèn"}),
    ],
    ids=lambda v: str(v)[:20],
)
@pytest.mark.parametrize("mentioned", [False, True], ids=["unmentioned", "mentioned"])
def test_a_value_inside_a_word_never_binds(
    raw: str, parameters: dict[str, Any], mentioned: bool
) -> None:
    names = frozenset(parameters) if mentioned else frozenset()
    assert bind(raw, parameters, names) == repr(raw)


@pytest.mark.parametrize(
    ("raw", "parameters", "expected"),
    [
        ("EUR 12", {"currency": "EUR"}, "f\"{ctx.param('currency')} 12\""),
        ("1000 and 100", {"count": 100}, "f\"1000 and {ctx.param('count')}\""),
        ("env=dev;", {"env": "dev"}, "f\"env={ctx.param('env')};\""),
        ("ops@dev.acme", {"env": "dev"}, "f\"ops@{ctx.param('env')}.acme\""),
    ],
)
def test_a_value_at_word_boundaries_still_binds(
    raw: str, parameters: dict[str, Any], expected: str
) -> None:
    assert bind(raw, parameters).replace("'", '"') == expected.replace("'", '"')


WORD = st.text(st.characters(categories=["Ll", "Lu", "Nd"]), min_size=1, max_size=6)


@settings(max_examples=200, deadline=None)
@given(
    value=st.text(st.characters(categories=["Ll", "Lu", "Nd"]), min_size=3, max_size=8),
    left=WORD,
    right=WORD,
    side=st.sampled_from(["left", "right", "both"]),
)
def test_property_a_value_joined_to_word_characters_stays_a_literal(
    value: str, left: str, right: str, side: str
) -> None:
    raw = (left if side != "right" else " ") + value + (right if side != "left" else " ")
    occurrences = [m.start() for m in re.finditer(f"(?={re.escape(value)})", raw)]
    free = [
        at
        for at in occurrences
        if not re.match(r"\w", raw[at - 1 : at] or " ")
        and not re.match(r"\w", raw[at + len(value) : at + len(value) + 1] or " ")
    ]
    code = bind(raw, {"p": value}, frozenset({"p"}))
    if raw == value or free:  # another occurrence may stand alone: that one binds
        return
    assert code == repr(raw)


def _refund_script(mentioned: bool) -> str:
    block = {"label": "refund", "block_type": "task", "url": "https://shop.test/orders"}
    if mentioned:
        block["navigation_goal"] = "Press the {{ action }} button"
    rec = Recorder("w_refund", defn([block], [param("action")]), {"action": "refund"})
    rec.block(
        "refund",
        "task",
        [act("click", "//button[@id='refund-btn']", "Press the refund button")],
        task={},
    )
    run = rec.finish().run()
    return generate_script(run, executed_labels(run), {}).files["main.py"].decode()


def test_a_selector_keeps_a_parameters_value_its_blocks_definition_does_not_mention() -> None:
    main = _refund_script(mentioned=False)
    assert "\"//button[@id='refund-btn']\"" in main
    assert "ctx.param('action')" not in main


def test_a_selector_binds_a_parameter_its_blocks_definition_mentions() -> None:
    main = _refund_script(mentioned=True)
    assert "f\"//button[@id='{ctx.param('action')}-btn']\"" in main


def test_a_typed_value_inside_a_word_in_a_recording_stays_literal_in_the_script() -> None:
    rec = Recorder(
        "w_words",
        defn(
            [{"label": "form", "block_type": "task", "url": "https://shop.test/f"}],
            [param("currency"), param("count"), param("env")],
        ),
        {"currency": "EUR", "count": 100, "env": "dev"},
    )
    rec.block(
        "form",
        "task",
        [
            act("input_text", "//input[@name='region']", "region", text="EUROPE"),
            act("input_text", "//input[@name='street']", "street", text="1000 Main Street"),
            act("input_text", "//input[@name='mail']", "mail", text="devops@acme.example"),
        ],
        task={},
    )
    run = rec.finish().run()
    main = generate_script(run, executed_labels(run), {}).files["main.py"].decode()
    assert "ctx.param" not in main
    for text in ("'EUROPE'", "'1000 Main Street'", "'devops@acme.example'"):
        assert text in main


@pytest.mark.parametrize(
    ("typed", "parameters", "mentioned", "expected"),
    [
        ("1", {"count": 1}, (), None),  # short and not mentioned
        ("1", {"count": 1}, ("count",), "count"),
        ("US", {"b": "US", "a": "US"}, ("b",), "b"),  # the mentioned one wins a tie
        ("EUROPE", {"currency": "EUR"}, ("currency",), None),  # never inside a word
        ("USD", {"b": "USD", "a": "USD"}, (), "a"),
    ],
)
def test_the_replays_emitted_actions_name_a_parameter_by_the_same_rules(
    typed: str, parameters: dict[str, Any], mentioned: tuple[str, ...], expected: str | None
) -> None:
    assert parameter_for(typed, parameters, frozenset(mentioned)) == expected
