"""A recorded element found again where it moved (worker/browser/page.py `_relocate`), in
real Chromium: when the recorded selector designates nothing or another element, the one
visible element of the expected tag with the expected text is acted on, without the agent;
when that element is not there exactly once, the agent's turn comes as before. Judged by
what the page's elements saw (clicks, typed values)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.browser import run_async
from worker.browser.chromium import open_page
from worker.browser.journal import BlockRecord, Journal
from worker.browser.page import BrowserPage, ElementMismatch, SelectorNotFound

COUNTED = (
    "<script>window.clicks = {}; document.addEventListener('click', e => { "
    "if (e.target.id) window.clicks[e.target.id] = (window.clicks[e.target.id] || 0) + 1; "
    "});</script>"
)


@dataclass
class Outcome:
    clicks: dict[str, int]
    record: BlockRecord
    journal: Journal
    error: BaseException | None = None
    typed: str | None = None
    hook_calls: list[tuple[str | None, str]] = field(default_factory=list)


def act(
    chromium: str,
    body: str,
    selector: str,
    expect: tuple[str, str | None],
    *,
    method: str = "click",
    hook: bool = False,
) -> Outcome:
    """One runtime action on a page of `body`; with `hook`, a fallback hook that does
    nothing but note that it was called."""

    async def run() -> Outcome:
        calls: list[tuple[str | None, str]] = []

        async def fallback(
            label: str | None,
            action: str,
            sel: str | None,
            intention: str | None,
            error: Exception,
            *,
            value: Any,
        ) -> None:
            calls.append((sel, str(error).splitlines()[0]))

        async with open_page(chromium) as page:
            await page.set_content(COUNTED + body)
            journal = Journal()
            journal.started("block", None)
            runtime = BrowserPage(
                page, journal, selector_timeout_s=0.5, fallback=fallback if hook else None
            )
            error: BaseException | None = None
            try:
                if method == "click":
                    await runtime.click(selector, intention="Click it", expect=expect)
                else:
                    await runtime.fill(selector, "A-1002", intention="Type it", expect=expect)
            except (SelectorNotFound, ElementMismatch) as exc:
                error = exc
            typed = await page.evaluate(
                "(document.querySelector('input:not([type=hidden])') || {}).value || null"
            )
            record = journal.current
            assert record is not None
            return Outcome(
                await page.evaluate("window.clicks"), record, journal, error, typed, calls
            )

    return run_async(run())


def test_an_element_moved_into_a_wrapper_is_clicked_where_it_is_now(chromium: str) -> None:
    done = act(
        chromium,
        "<div><main><button id='go'>Go</button></main></div>",
        "/html/body/button",
        ("button", "Go"),
    )

    assert done.error is None and done.clicks == {"go": 1}
    assert done.record.fallback == "relocated" and done.record.agent_calls == 0
    assert [
        (a["xpath"], a["status"], a["source"], a.get("element")) for a in done.record.actions
    ] == [
        ("/html/body/button", "failed", "code", None),
        ("/html/body/div/main/button", "completed", "code", {"tag": "button", "text": "Go"}),
    ]
    [moved] = done.journal.relocations
    assert (moved.label, moved.selector, moved.xpath) == (
        "block",
        "/html/body/button",
        "/html/body/div/main/button",
    )


def test_another_element_at_the_selector_is_never_clicked_the_expected_one_is(
    chromium: str,
) -> None:
    done = act(
        chromium,
        "<button id='draft'>Save as draft</button>"
        "<p><button id='refund'>Request\n  REFUND</button></p>",
        "/html/body/button",
        ("button", "Request refund"),
    )

    assert done.error is None and done.clicks == {"refund": 1}  # case and spaces aside
    assert done.record.actions[-1]["xpath"] == "/html/body/p/button"


def test_a_typed_value_goes_into_the_field_found_by_its_label(chromium: str) -> None:
    done = act(
        chromium,
        "<div><label>Order number <input name='q'></label></div>",
        "/html/body/label/input",
        ("input", "Order number"),
        method="fill",
    )

    assert done.error is None and done.typed == "A-1002"
    assert done.record.fallback == "relocated"
    assert done.record.actions[-1]["xpath"] == "/html/body/div/label/input"


def test_a_hidden_copy_does_not_count(chromium: str) -> None:
    done = act(
        chromium,
        "<div hidden><button id='old'>Go</button></div><div><button id='new'>Go</button></div>",
        "/html/body/button",
        ("button", "Go"),
    )

    assert done.error is None and done.clicks == {"new": 1}


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        # two buttons of that text: which one the recording meant cannot be told
        (
            "<div><button id='a'>Delete</button><button id='b'>Delete</button></div>",
            ("button", "Delete"),
        ),
        # only the tag is known (a text that varied across loop iterations)
        ("<div><button id='a'>Delete</button></div>", ("button", None)),
        # the text is nowhere (renamed): the agent's turn
        ("<div><button id='a'>Remove</button></div>", ("button", "Delete")),
        # the text, but on another tag
        ("<div><a id='a' href='#'>Delete</a></div>", ("button", "Delete")),
    ],
)
def test_without_exactly_one_match_nothing_is_clicked(
    chromium: str, body: str, expect: tuple[str, str | None]
) -> None:
    done = act(chromium, body, "/html/body/button", expect)

    assert isinstance(done.error, SelectorNotFound), done.error
    assert done.clicks == {} and done.journal.relocations == []


def test_the_element_mismatch_names_both_elements_when_the_expected_one_is_nowhere(
    chromium: str,
) -> None:
    done = act(
        chromium,
        "<button id='draft'>Save as draft</button>",
        "/html/body/button",
        ("button", "Request refund"),
    )

    assert isinstance(done.error, ElementMismatch)
    assert str(done.error) == (
        "block 'block': click (intention: 'Click it'): the element at /html/body/button is "
        "<button 'Save as draft'>, the recording's was <button 'Request refund'>"
    )
    assert done.clicks == {}


def test_a_found_element_that_cannot_be_clicked_goes_to_the_agent(chromium: str) -> None:
    covered = (
        "<div><button id='go'>Go</button></div><div id='veil' style='position:fixed;"
        "inset:0;background:#fff'></div>"
    )
    done = act(chromium, covered, "/html/body/button", ("button", "Go"), hook=True)

    assert done.error is None and done.clicks == {}
    assert [sel for sel, _ in done.hook_calls] == ["/html/body/button"]
    assert done.record.fallback == "element" and done.journal.relocations == []


def test_once_the_site_moved_an_element_a_missing_selector_is_looked_for_at_once(
    chromium: str,
) -> None:
    """The second button's recorded place is filled only 3 s after the page loaded; the
    first relocation takes the 2 s selector timeout. Looked for at once, the second click
    goes to the moved "Two" (at about 2 s); waited for (until about 4 s), it would have gone
    to the late one."""
    late = (
        "<script>setTimeout(() => document.body.insertAdjacentHTML('beforeend', "
        "\"<section><button id='late'>Two</button></section>\"), 3000);</script>"
    )

    async def run() -> tuple[dict[str, int], Journal]:
        async with open_page(chromium) as page:
            await page.set_content(
                COUNTED + "<div><button id='one'>One</button>"
                "<button id='two'>Two</button></div>" + late
            )
            journal = Journal()
            journal.started("block", None)
            runtime = BrowserPage(page, journal, selector_timeout_s=2.0)
            await runtime.click(
                "/html/body/p/button", intention="Click 'One'", expect=("button", "One")
            )
            await runtime.click(
                "/html/body/section/button", intention="Click 'Two'", expect=("button", "Two")
            )
            return await page.evaluate("window.clicks"), journal

    clicks, journal = run_async(run())

    assert clicks == {"one": 1, "two": 1}
    assert [r.xpath for r in journal.relocations] == [
        "/html/body/div/button[1]",
        "/html/body/div/button[2]",
    ]
