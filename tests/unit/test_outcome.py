"""A block's outcome check (ARCHITECTURE.md §12): generated from block_completed.page
(worker/domain/codegen/outcome.py) and matched against today's page (worker/runtime/outcome.py),
from tables."""

from __future__ import annotations

from typing import Any

import pytest

from worker.domain.codegen.actions import ActionScope
from worker.domain.codegen.nodes import source
from worker.domain.codegen.outcome import outcome_check, volatile
from worker.domain.codegen.values import RunValues
from worker.domain.events import parse_event
from worker.domain.run import BlockRun, PageRecord
from worker.runtime.outcome import outcome_problem, path_matches, title_matches
from worker.secrets.seals import REDACTED


def run(
    url: str | None,
    title: str | None,
    *,
    index: int | None = None,
    value: Any = None,
    status: str = "completed",
    start: str | None = "same",
) -> BlockRun:
    return BlockRun(
        f"wrb_{index}",
        "sign_in",
        "navigation",
        status,
        "agent",
        loop_index=index,
        loop_value=value,
        page=None
        if url is None and title is None
        else PageRecord(url, title, (), url if start == "same" else start),
    )


def scope(record: BlockRun, parameters: dict[str, Any] | None = None) -> ActionScope:
    in_loop = record.loop_index is not None
    binder = RunValues(parameters or {}).binder(record.loop_value, in_loop, frozenset(), {})
    return ActionScope(frozenset(), binder=binder, label="sign_in", loop_value=record.loop_value)


def check(record: BlockRun, *others: BlockRun, parameters: dict[str, Any] | None = None) -> str:
    statement = outcome_check(
        record, scope(record, parameters), [(o, scope(o, parameters)) for o in others]
    )
    return "" if statement is None else source(statement)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("/admin/", "/admin/"),
        ("/issues/42/edit", "/issues/*/edit"),
        ("Inbox (3) | Mail", "Inbox (*) | Mail"),
        ("/runs/3f2a9c1e-77b0-4c1d-9e2f-0a1b2c3d4e5f", "/runs/*"),
        ("/deadbeef/cafe", "/deadbeef/cafe"),  # hexadecimal words without a digit stay
        (f"Welcome {REDACTED}", "Welcome *"),
        ("/v2/a11y", "/v*/a*y"),
    ],
)
def test_what_no_run_repeats_becomes_a_wildcard(text: str, pattern: str) -> None:
    assert volatile(text) == pattern


def test_a_block_that_moved_on_is_checked_by_its_path_alone() -> None:
    # the title names the user's permissions as often as the outcome ("View customer")
    found = check(
        run("http://shop.test/admin/?next=x", "Site administration", start="http://s/login")
    )
    assert found == "await page.expect_outcome(path='/admin/')"


def test_a_block_that_ended_where_it_started_is_checked_by_its_title_too() -> None:
    found = check(run("http://shop.test/search?q=1", "Results | Shop", start="http://t/search"))
    assert found == "await page.expect_outcome(path='/search', title='Results | Shop')"
    assert check(run("http://t/a", "A", start=None)) == "await page.expect_outcome(path='/a')"


def test_the_runs_values_are_bound_in_the_path_and_a_whole_title() -> None:
    found = check(
        run("http://shop.test/orders/SO-1003/", "Ada Lovelace"),
        parameters={"order": "SO-1003", "customer": "Ada Lovelace"},
    )
    assert found == (
        "await page.expect_outcome(path=f\"/orders/{ctx.param('order')}/\", "
        "title=ctx.param('customer'))"
    )


def test_a_value_inside_a_title_binds_only_when_it_is_the_loops() -> None:
    # "refund" is the site's word here, not the parameter: the title keeps it
    found = check(run("http://t/r", "Request refund | Shop"), parameters={"reason": "refund"})
    assert "title='Request refund | Shop'" in found
    looped = check(run("http://t/r", "Order SO-1 | Shop", index=0, value="SO-1"))
    assert "title=f'Order {ctx.current_value} | Shop'" in looped


def test_a_part_that_differs_between_iterations_is_not_checked() -> None:
    first = run("http://t/orders/a", "Order alpha", index=0, value="x")
    second = run("http://t/orders/b", "Order alpha", index=1, value="y")
    assert check(first, second) == "await page.expect_outcome(title='Order alpha')"
    third = run("http://t/orders/a", "Order beta", index=2, value="z")
    assert check(first, second, third) == ""


def test_no_page_or_a_failed_run_or_nothing_but_wildcards_gives_no_check() -> None:
    assert check(run(None, None)) == ""
    assert check(run("http://t/a", "A", status="failed")) == ""
    assert check(run("http://t/1", "2")) == "await page.expect_outcome(path='/*')"
    assert check(run(None, "2")) == ""


@pytest.mark.parametrize(
    ("pattern", "path", "holds"),
    [
        ("/admin/", "/admin", True),
        ("/admin/", "/admin/login/", False),
        ("/issues/*/edit", "/issues/17/edit", True),
        ("/issues/*/edit", "/issues/17/x/edit", False),  # a wildcard never spans a "/"
        ("/", "", True),
        ("/orders/SO-*", "/orders/SO-2001", True),
    ],
)
def test_paths(pattern: str, path: str, holds: bool) -> None:
    assert path_matches(pattern, path) is holds


def test_titles_compare_with_white_space_collapsed_and_wildcards_spanning_anything() -> None:
    assert title_matches("Inbox (*) | Mail", "Inbox  (12)\n| Mail")
    assert not title_matches("Site administration | Shop", "Log in | Shop")
    assert title_matches("a.b", "a.b") and not title_matches("a.b", "axb")  # no regex leaks


def test_the_problem_names_what_differs() -> None:
    problem = outcome_problem(
        "/admin/", "Site administration", "http://s/admin/login/?n=1", "Log in"
    )
    assert problem == (
        "the page is at '/admin/login/', the recording's was at '/admin/'; "
        "its title is 'Log in', the recording's was 'Site administration'"
    )
    assert outcome_problem("/admin/", None, "http://s/admin/", None) is None


def test_the_event_carries_the_page_and_its_fields() -> None:
    event = parse_event(
        {
            "type": "block_completed",
            "event_id": "e1",
            "occurred_at": "2026-01-01T00:00:00Z",
            "workflow_run_id": "wr1",
            "workflow_run_block_id": "b1",
            "label": "lookup",
            "block_type": "extraction",
            "status": "completed",
            "output": {"status": "paid"},
            "page": {
                "url": "http://s/orders/1",
                "title": "Order 1",
                "fields": [
                    {"path": ["status"], "xpath": "//td[2]", "element": {"tag": "td", "row": "x"}}
                ],
            },
        }
    )
    assert event.page is not None and event.page.title == "Order 1"
    stored = PageRecord.of(event.page.model_dump(mode="json"))
    assert stored is not None and stored.fields[0].path == ("status",)
    assert stored.fields[0].element.attributes == {"row": "x"}
