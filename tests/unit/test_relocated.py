"""`relocated` (worker/runtime/identity.py): which candidate a moved element is, or none."""

from __future__ import annotations

from typing import Any

import pytest

from worker.runtime.identity import relocated


def candidate(tag: str, text: str | None, xpath: str) -> dict[str, Any]:
    return {"tag": tag, "text": text, "xpath": xpath}


PAGE = [
    candidate("button", "Sign in", "/html/body/div/form/button"),
    candidate("button", "Delete", "/html/body/table/tr[1]/td/button"),
    candidate("button", "Delete", "/html/body/table/tr[2]/td/button"),
    candidate("a", "Sign in", "/html/body/nav/a"),
    candidate("input", "Order  number", "/html/body/div/form/label/input"),
]


@pytest.mark.parametrize(
    ("expected", "found"),
    [
        (("button", "Sign in"), "/html/body/div/form/button"),  # the tag tells it from the link
        (("a", "sign IN"), "/html/body/nav/a"),  # texts compare ignoring case
        (("input", " Order number "), "/html/body/div/form/label/input"),  # and runs of spaces
        (("button", "Delete"), None),  # twice: which one is not known
        (("button", None), None),  # no text: nothing names the element
        (("button", "   "), None),
        (("button", "Continue"), None),  # nowhere
        (("select", "Sign in"), None),
    ],
)
def test_only_a_single_candidate_of_the_tag_and_text_is_the_element(
    expected: tuple[str, str | None], found: str | None
) -> None:
    assert relocated(PAGE, expected) == found


def test_no_expectation_and_malformed_candidates_find_nothing() -> None:
    assert relocated(PAGE, None) is None
    assert (
        relocated(
            [{"tag": "button", "text": "Go"}, "junk", None],  # no xpath
            ("button", "Go"),
        )
        is None
    )
