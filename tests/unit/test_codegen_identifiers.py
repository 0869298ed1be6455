"""The identifier helper: every label becomes a valid, distinct, deterministic Python name."""

from __future__ import annotations

import keyword

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.examples import examples
from worker.domain.codegen.nodes import RESERVED, identifier

CASES = [
    # label, expected name
    ("sign_in", "sign_in"),
    ("open_order", "open_order"),
    ("2nd step", "block_2nd_step_"),
    ("class", "class_"),
    ("print", "print_"),
    ("page", "page_"),
    ("run_workflow", "run_workflow_"),
    ("ünïcode", "unicode_"),
    ("a-b", "a_b_"),
    ("SignIn", "signin_"),
    ("", "block_"),
    ("!!!", "block_"),
    ("_", "block_"),
    ("__start_block__", "start_block_"),
    ("日本語", "block_"),
    ("x_0123abcd", "x_0123abcd_"),  # looks hashed: hashed again, so no label can imitate one
]


@pytest.mark.parametrize(("label", "expected"), CASES)
def test_labels_map_to_the_expected_names(label: str, expected: str) -> None:
    got = identifier(label)
    if expected.endswith("_"):
        assert got.startswith(expected) and len(got) == len(expected) + 8
    else:
        assert got == expected


def test_a_dash_and_an_underscore_give_distinct_names() -> None:
    assert identifier("a-b") != identifier("a_b") == "a_b"


def test_every_table_label_gives_a_distinct_valid_name() -> None:
    names = [identifier(label) for label, _ in CASES]
    assert len(set(names)) == len(names)
    for got in names:
        assert got.isidentifier() and got.isascii() and got == got.lower()
        assert not keyword.iskeyword(got) and not keyword.issoftkeyword(got)
        assert got not in RESERVED


def test_long_labels_are_shortened_but_stay_distinct() -> None:
    one, two = identifier("x" * 200 + "a"), identifier("x" * 200 + "b")
    assert one != two and len(one) < 60


@settings(max_examples=examples(1500), deadline=None)
@given(st.lists(st.text(max_size=30), min_size=2, max_size=8, unique=True))
def test_distinct_labels_always_give_distinct_valid_names(labels: list[str]) -> None:
    names = [identifier(label) for label in labels]
    assert len(set(names)) == len(labels)
    assert all(n.isidentifier() and not keyword.iskeyword(n) and n not in RESERVED for n in names)
    assert names == [identifier(label) for label in labels]  # deterministic
