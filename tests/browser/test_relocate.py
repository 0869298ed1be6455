"""A recorded element found again where it moved (worker/browser/page.py, the matcher of
worker/runtime/matcher.py), in real Chromium: when the recorded selector designates nothing
or another element, the element the matcher is sure of is acted on, without the agent; when
it is not sure, the agent's turn comes as before. Each element is recorded as the recorders
record it (DESCRIBE_JS on the page before the change). Judged by what the page's elements
saw (clicks, typed values).

Before issue 27 the rule was "the one visible element of the recorded tag and text"; a
recording of only tag and text is no longer relocated (a text is what a decoy copies), and
transparent copies no longer count as visible."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.browser import run_async
from worker.browser.chromium import open_page
from worker.browser.journal import BlockRecord, Journal
from worker.browser.page import BrowserPage, ElementMismatch, SelectorNotFound
from worker.runtime.identity import DESCRIBE_JS

Expect = tuple[str, str | None] | tuple[str, str | None, dict[str, Any]]

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
    expect: Expect,
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


def recorded(chromium: str, before: str, css: str) -> Expect:
    """The `expect` a script generated from a recording on `before` passes: the element at
    `css` as DESCRIBE_JS records it."""

    async def run() -> dict[str, Any]:
        async with open_page(chromium) as page:
            await page.set_content(before)
            described: dict[str, Any] = await page.locator(css).first.evaluate(DESCRIBE_JS)
            return described

    element = run_async(run())
    return (element.pop("tag"), element.pop("text"), element)


def test_an_element_moved_into_a_wrapper_is_clicked_where_it_is_now(chromium: str) -> None:
    done = act(
        chromium,
        "<div><main><button id='go'>Go</button></main></div>",
        "/html/body/button",
        recorded(chromium, "<button id='go'>Go</button>", "#go"),
    )

    assert done.error is None and done.clicks == {"go": 1}
    assert done.record.fallback == "relocated" and done.record.agent_calls == 0
    assert [(a["xpath"], a["status"], a["source"]) for a in done.record.actions] == [
        ("/html/body/button", "failed", "code"),
        ("/html/body/div/main/button", "completed", "code"),
    ]
    assert done.record.actions[-1]["element"] == {  # as it is now: the repair records it
        "tag": "button",
        "text": "Go",
        "id": "go",
        "landmark": "main",
        "index": 0,
    }
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
        recorded(chromium, "<button id='refund'>Request refund</button>", "#refund"),
    )

    assert done.error is None and done.clicks == {"refund": 1}  # case and spaces aside
    assert done.record.actions[-1]["xpath"] == "/html/body/p/button"


def test_a_typed_value_goes_into_the_field_found_by_its_label(chromium: str) -> None:
    done = act(
        chromium,
        "<div><label>Order number <input name='q'></label></div>",
        "/html/body/label/input",
        recorded(chromium, "<label>Order number <input name='q'></label>", "input"),
        method="fill",
    )

    assert done.error is None and done.typed == "A-1002"
    assert done.record.fallback == "relocated"
    assert done.record.actions[-1]["xpath"] == "/html/body/div/label/input"


def test_hidden_and_transparent_copies_do_not_count(chromium: str) -> None:
    done = act(
        chromium,
        "<div hidden><button name='go' id='old'>Go</button></div>"
        "<div style='opacity: 0'><button name='go' id='ghost'>Go</button></div>"
        "<div><button name='go' id='new'>Go</button></div>",
        "/html/body/button",
        recorded(chromium, "<button name='go'>Go</button>", "button"),
    )

    assert done.error is None and done.clicks == {"new": 1}


@pytest.mark.parametrize(
    ("before", "body"),
    [
        # two buttons that agree with the recording as much: which one cannot be told
        (
            "<button>Delete</button>",
            "<div><button id='a'>Delete</button><button id='b'>Delete</button></div>",
        ),
        # the text is nowhere (renamed): the agent's turn
        ("<button>Delete</button>", "<div><button id='a'>Remove</button></div>"),
        # the text, but on another tag
        ("<button>Delete</button>", "<div><a id='a' href='#'>Delete</a></div>"),
        # another field name in the recorded form
        (
            "<form action='/o'><button name='delete'>Delete</button></form>",
            "<div><form action='/o'><button id='a' name='archive'>Delete</button></form></div>",
        ),
    ],
)
def test_when_the_matcher_is_not_sure_nothing_is_clicked(
    chromium: str, before: str, body: str
) -> None:
    done = act(chromium, body, "/html/body/button", recorded(chromium, before, "button"))

    assert isinstance(done.error, SelectorNotFound), done.error
    assert "best candidates: " in str(done.error) and " at /html/body/div/" in str(done.error)
    assert done.clicks == {} and done.journal.relocations == []


@pytest.mark.parametrize("expect", [("button", "Go"), ("button", None)])
def test_a_recording_of_only_tag_and_text_is_never_relocated(chromium: str, expect: Expect) -> None:
    """Scripts generated before issue 27 expect (tag, text): a decoy can copy both."""
    done = act(chromium, "<div><button id='go'>Go</button></div>", "/html/body/button", expect)

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
    go = recorded(chromium, "<button id='go'>Go</button>", "#go")
    done = act(chromium, covered, "/html/body/button", go, hook=True)

    assert done.error is None and done.clicks == {}
    assert [sel for sel, _ in done.hook_calls] == ["/html/body/button"]
    assert done.record.fallback == "element" and done.journal.relocations == []


def test_a_missing_selector_costs_no_timeout_when_the_matcher_is_sure(chromium: str) -> None:
    """Both recorded places are gone and the buttons moved; a button filling the second
    recorded place comes 3 s after the page loaded, and the selector timeout is 5 s. The
    matcher, sure of both on the settled page, clicks the moved ones at once (well before
    3 s); waiting for the selectors would have clicked the late one."""
    late = (
        "<script>setTimeout(() => document.body.insertAdjacentHTML('beforeend', "
        "\"<section><button id='late'>Two</button></section>\"), 3000);</script>"
    )
    before = "<p><button id='one'>One</button></p><section><button id='two'>Two</button></section>"
    one, two = recorded(chromium, before, "#one"), recorded(chromium, before, "#two")

    async def run() -> tuple[dict[str, int], Journal, float]:
        async with open_page(chromium) as page:
            await page.set_content(
                COUNTED + "<div><button id='one'>One</button>"
                "<button id='two'>Two</button></div>" + late
            )
            journal = Journal()
            journal.started("block", None)
            runtime = BrowserPage(page, journal, selector_timeout_s=5.0)
            started = asyncio.get_running_loop().time()
            await runtime.click("/html/body/p/button", intention="Click 'One'", expect=one)
            await runtime.click("/html/body/section/button", intention="Click 'Two'", expect=two)
            took = asyncio.get_running_loop().time() - started
            return await page.evaluate("window.clicks"), journal, took

    clicks, journal, took_s = run_async(run())

    assert clicks == {"one": 1, "two": 1}
    assert [r.xpath for r in journal.relocations] == [
        "/html/body/div/button[1]",
        "/html/body/div/button[2]",
    ]
    assert took_s < 2.5
