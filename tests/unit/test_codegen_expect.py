"""What a statement expects of its element (worker/domain/codegen/expect.py, actions[].element), and
the descriptor rules they are compared by (worker/runtime/identity.py), from tables."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from worker.domain.codegen.actions import ActionScope, statements
from worker.domain.codegen.expect import varying, without_run_query
from worker.domain.codegen.nodes import source
from worker.domain.codegen.values import RunValues
from worker.domain.events import PermanentError, parse_event
from worker.domain.run import ActionRecord, BlockRun, ElementRecord
from worker.runtime.identity import descriptor, matches, normalized, shown
from worker.secrets.seals import REDACTED

SAVE = "//form/div/input[1]"


def act(
    xpath: str | None,
    element: tuple[str, str | None] | None,
    kind: str = "click",
    text: str | None = None,
    intention: str = "Click 'Save'",
) -> ActionRecord:
    return ActionRecord(
        action_id=f"{xpath}:{kind}",
        action_type=kind,
        xpath=xpath,
        intention=intention,
        text=text,
        status="completed",
        element=None if element is None else ElementRecord(*element),
    )


def run(*actions: ActionRecord, index: int | None = None, value: Any = None) -> BlockRun:
    return BlockRun(
        f"wrb_{index}",
        "open",
        "navigation",
        "completed",
        "agent",
        loop_index=index,
        loop_value=value,
        actions=actions,
    )


def code(
    record: BlockRun, *others: BlockRun, parameters: dict[str, Any] | None = None
) -> list[str]:
    in_loop = record.loop_index is not None
    binder = RunValues(parameters or {}).binder(record.loop_value, in_loop, frozenset(), {})
    scope = ActionScope(frozenset(), binder=binder, label="open")
    found = statements(record.actions, scope, Counter(), varying=varying(record, (record, *others)))
    return [source(s) for s in found]


def test_an_action_with_its_element_expects_that_element() -> None:
    assert code(run(act(SAVE, ("input", "Save")))) == [
        f"await page.click('{SAVE}', intention=\"Click 'Save'\", expect=('input', 'Save'))"
    ]


def test_an_action_without_element_is_generated_as_before() -> None:
    assert code(run(act(SAVE, None))) == [f"await page.click('{SAVE}', intention=\"Click 'Save'\")"]


def test_an_element_without_text_is_expected_by_its_tag() -> None:
    assert code(run(act("//div/a", ("a", None), intention="Open"))) == [
        "await page.click('//div/a', intention='Open', expect=('a', None))"
    ]


def test_actions_on_no_element_expect_nothing() -> None:
    record = run(
        act(None, ("input", "Search"), kind="keypress", text="Enter", intention="Press Enter"),
        act(
            "https://x.test", ("a", "Home"), kind="goto_url", text="https://x.test", intention="Go"
        ),
    )
    assert "expect" not in "".join(code(record))


def test_a_link_whose_text_is_the_loop_value_expects_the_current_value() -> None:
    first = run(
        act("//tr[1]/td/a", ("a", "SO-1001"), intention="Open it"), index=0, value="SO-1001"
    )
    second = run(
        act("//tr[1]/td/a", ("a", "SO-1004"), intention="Open it"), index=1, value="SO-1004"
    )

    assert code(first, second) == [
        "await page.click('//tr[1]/td/a', intention='Open it', expect=('a', ctx.current_value))"
    ]


def test_a_text_that_varies_between_iterations_unbound_is_left_out() -> None:
    first = run(
        act("//tr[1]/td/a", ("a", "Grace Hopper"), intention="Open it"), index=0, value="SO-1001"
    )
    second = run(
        act("//tr[1]/td/a", ("a", "Ada Lovelace"), intention="Open it"), index=1, value="SO-1004"
    )

    assert code(first, second) == [
        "await page.click('//tr[1]/td/a', intention='Open it', expect=('a', None))"
    ]


def test_a_text_the_same_in_every_iteration_stays_whatever_its_case_and_spaces() -> None:
    first = run(
        act("//form/input[2]", ("input", "Search"), intention="Search"), index=0, value="SO-1001"
    )
    second = run(
        act("//form/input[2]", ("input", " search "), intention="Search"), index=1, value="SO-1004"
    )

    assert code(first, second) == [
        "await page.click('//form/input[2]', intention='Search', expect=('input', 'Search'))"
    ]


def test_an_element_whose_tag_varies_between_iterations_is_not_expected() -> None:
    first = run(act("//main/*[2]", ("a", "Next"), intention="Next"), index=0, value="A")
    second = run(act("//main/*[2]", ("button", "Next"), intention="Next"), index=1, value="B")

    assert code(first, second) == ["await page.click('//main/*[2]', intention='Next')"]


def test_a_text_holding_a_parameter_becomes_a_template_and_the_intention_follows() -> None:
    record = run(act("//ul/li[3]/a", ("a", "Grace Hopper"), intention="Open 'Grace Hopper'"))

    assert code(record, parameters={"customer": "Grace Hopper"}) == [
        "await page.click(\n    '//ul/li[3]/a',\n"
        "    intention=f\"Open '{ctx.param('customer')}'\",\n"
        "    expect=('a', ctx.param('customer')),\n)"
    ]


def test_a_text_holding_a_redacted_secret_is_left_out() -> None:
    record = run(act("//p/span", ("span", f"Signed in as {REDACTED}"), intention="Me"))

    assert code(record) == ["await page.click('//p/span', intention='Me', expect=('span', None))"]


def test_a_fill_expects_its_field_and_keeps_its_value_bound() -> None:
    record = run(
        act(
            "//form/input[1]",
            ("input", "Subject:"),
            kind="input_text",
            text="Refund for SO-1004",
            intention="Type the subject",
        ),
        index=0,
        value="SO-1004",
    )

    assert code(record) == [
        "await page.fill(\n    '//form/input[1]',\n    f'Refund for {ctx.current_value}',\n"
        "    intention='Type the subject',\n    expect=('input', 'Subject:'),\n)"
    ]


@pytest.mark.parametrize(
    ("found", "expected", "same"),
    [
        (("input", "Save"), ("input", "Save"), True),
        (("input", "Save and add another"), ("input", "Save"), False),
        (("button", "Save"), ("input", "Save"), False),
        (("input", "save"), ("INPUT", "  Save "), True),
        (("a", "Grace\n  Hopper"), ("a", "grace hopper"), True),
        (("a", "anything"), ("a", None), True),
        (("a", None), ("a", ""), True),
        (("a", "x" * 80), ("a", "x" * 100), False),  # whole texts (issue 27)
        (("a", "x" * 100), ("a", "x" * 80), True),  # a record an older recorder cut
    ],
)
def test_descriptors_compare_by_tag_and_text_ignoring_case_and_spaces(
    found: tuple[str, str | None], expected: tuple[str, str | None], same: bool
) -> None:
    assert matches(found, expected) is same


def test_descriptors_read_and_shown() -> None:
    assert descriptor({"tag": "INPUT", "text": "Save"}) == ("input", "Save")
    assert descriptor(["a", None]) == ("a", None)
    assert descriptor({"text": "no tag"}) is None and descriptor(None) is None
    assert shown(("input", "Save")) == "<input 'Save'>" and shown(("a", None)) == "<a>"
    assert normalized(" A\u00a0 b ") == "a b"


def test_the_event_field_is_validated_and_its_tag_lower_cased() -> None:
    event = {
        "type": "block_completed",
        "event_id": "e1",
        "occurred_at": "2026-12-01T10:00:00Z",
        "workflow_run_id": "wr",
        "workflow_run_block_id": "wrb",
        "label": "save",
        "block_type": "task",
        "status": "completed",
        "actions": [
            {
                "action_id": "a1",
                "action_type": "click",
                "xpath": SAVE,
                "element": {"tag": "INPUT", "text": "Save"},
            }
        ],
    }
    parsed = parse_event(event)
    assert parsed.actions[0].element is not None  # type: ignore[union-attr]
    assert parsed.actions[0].element.tag == "input"  # type: ignore[union-attr]

    event["actions"][0]["element"] = {"text": "Save"}
    with pytest.raises(PermanentError, match="element"):
        parse_event(event)


def test_a_parameter_only_inside_the_sites_prose_does_not_bind() -> None:
    record = run(act("//form/button", ("button", "Request refund"), intention="Click it"))

    assert code(record, parameters={"action": "refund"}) == [
        "await page.click('//form/button', intention='Click it', "
        "expect=('button', 'Request refund'))"
    ]


def test_the_loop_value_inside_a_text_binds() -> None:
    first = run(
        act("//tr[1]/td/a", ("a", "Order SO-1001"), intention="Open it"), index=0, value="SO-1001"
    )
    second = run(
        act("//tr[1]/td/a", ("a", "Order SO-1004"), intention="Open it"), index=1, value="SO-1004"
    )

    assert code(first, second) == [
        "await page.click('//tr[1]/td/a', intention='Open it', "
        "expect=('a', f'Order {ctx.current_value}'))"
    ]


def rich(xpath: str, tag: str, text: str | None, **attributes: Any) -> ActionRecord:
    return ActionRecord(
        action_id=xpath,
        action_type="click",
        xpath=xpath,
        intention="Open it",
        status="completed",
        element=ElementRecord(tag, text, attributes),
    )


def test_a_richer_record_is_expected_with_its_attributes_sorted() -> None:
    record = run(
        rich(
            "//form/button",
            "button",
            "Save",
            name="_save",
            form={"action": "/o/1/", "fields": ["_save", "note"]},
            index=0,
        )
    )
    assert code(record) == [
        "await page.click(\n    '//form/button',\n    intention='Open it',\n    expect=('button', "
        "'Save', {'form': {'action': '/o/1/', 'fields': ['_save', 'note']}, 'index': 0, "
        "'name': '_save'}),\n)"
    ]


def test_attributes_holding_the_recorded_runs_data_are_bound_or_left_out() -> None:
    """A heading beside the button names the recorded run's order (a parameter the block does
    not mention: left out; the loop's value: bound); a link named by the loop's value has
    its row beside it, which is the run's data too."""
    save = rich("//form/button", "button", "Save", near=["Change order SO-1003", "Note"], index=0)
    [outside] = code(run(save), parameters={"order": "SO-1003"})
    assert "SO-1003" not in outside and "'near': ['Note']" in outside
    link = rich("//tr[1]/td/a", "a", "SO-1003", row="grace@cobol.test", near=["Orders"], index=1)
    [in_loop, row_link] = code(run(save, link, index=0, value="SO-1003"))
    assert "'near': [f'Change order {ctx.current_value}', 'Note']" in in_loop
    assert "grace@cobol.test" not in row_link and "near" not in row_link
    assert "expect=('a', ctx.current_value, {'index': 1})" in row_link


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        # the query holds the run's order (percent-encoded: no word boundary to bind at)
        (
            "/admin/shop/order/3/change/?_changelist_filters=q%3DSO-1003",
            "/admin/shop/order/3/change/",
        ),
        ("/orders?number=SO-1003&page=2", "/orders"),
        ("/orders?page=2", "/orders?page=2"),  # nothing of the run: kept whole
        ("/orders/", "/orders/"),
    ],
)
def test_an_address_keeps_no_query_holding_the_recorded_runs_values(url: str, kept: str) -> None:
    binder = RunValues({"order": "SO-1003"}).binder(None, False, frozenset(), {})
    assert without_run_query(url, binder) == kept


def test_a_link_whose_query_held_the_runs_value_is_generated_without_it() -> None:
    link = ActionRecord(
        action_id="a",
        action_type="click",
        xpath="//a[1]",
        intention="Open the order",
        status="completed",
        element=ElementRecord(
            "a", "Open", attributes={"href": "/o/3/change/?_changelist_filters=q%3DSO-1003"}
        ),
    )
    [line] = code(run(link), parameters={"order": "SO-1003"})
    assert "SO-1003" not in line and "'href': '/o/3/change/'" in line
