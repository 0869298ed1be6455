"""The element identity check in real Chromium (actions[].element, `expect=`): a recorded
positional xpath that now designates another element of the same tag is never acted on.

The test portal's `decoy` puts a "Save as draft" button before "Request refund": the
recorded `/html/body/form/button` now finds the decoy, and the runtime finds "Request
refund" again where it moved (tests/browser/test_relocate.py has the rules). Judged by the
site's form posts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.test_replay import ALICE
from tests.keys import SEAL_KEY
from tests.support.browser import run_async
from tests.support.portal import Cache, Portal
from worker.adapters.sql import scripts as read
from worker.app.generation import GenerateResult, generate_now
from worker.app.intake import record_only
from worker.browser.chromium import open_page
from worker.browser.journal import Journal
from worker.browser.page import BrowserPage
from worker.browser.replay import Hooks, replay_revision
from worker.demo.portal.closed_loop import Run, agent_run, replay_with_agent
from worker.demo.portal.workflow import WPID, read_status_total
from worker.domain.events import parse_event
from worker.runtime.identity import DESCRIBE_JS

ELEMENTS = (
    """<form>
 <input id="save" type="submit" value="  Save   changes ">
 <input type="button" value="Go">
 <label for="who">Your  name:</label> <input id="who" name="person">
 <label>Reason <select name="reason"><option>Damaged</option><option>Late</option></select>
 </label>
 <input aria-label="Search orders" placeholder="Order number">
 <input placeholder="Order number">
 <input name="code">
 <textarea name="note"></textarea>
 <button type="submit"><span>Request</span>
   refund</button>
 <button aria-label="Close dialog">X</button>
</form>
<a href="#">SO-1001</a>
<p id="long">"""
    + "word " * 40
    + """</p>
<div id="empty"></div>"""
)

DESCRIBED = [
    ("#save", {"tag": "input", "text": "Save changes"}),
    ("input[type=button]", {"tag": "input", "text": "Go"}),
    ("#who", {"tag": "input", "text": "Your name:"}),
    ("select", {"tag": "select", "text": "Reason"}),  # the wrapping label, not its options
    ("[aria-label='Search orders']", {"tag": "input", "text": "Search orders"}),
    ("input[placeholder]:not([aria-label])", {"tag": "input", "text": "Order number"}),
    ("[name=code]", {"tag": "input", "text": "code"}),
    ("textarea", {"tag": "textarea", "text": "note"}),
    ("button[type=submit]", {"tag": "button", "text": "Request refund"}),
    ("[aria-label='Close dialog']", {"tag": "button", "text": "Close dialog"}),
    ("a", {"tag": "a", "text": "SO-1001"}),
    ("#long", {"tag": "p", "text": ("word " * 40).strip()}),  # whole, not cut to 80 (issue 27)
    ("#empty", {"tag": "div", "text": None}),
]


def test_the_descriptor_recorders_and_replay_share_reads_each_kind_of_element(
    chromium: str,
) -> None:
    async def describe() -> list[Any]:
        async with open_page(chromium) as page:
            await page.set_content(ELEMENTS)
            return [await page.locator(css).first.evaluate(DESCRIBE_JS) for css, _ in DESCRIBED]

    described = run_async(describe())
    assert [{"tag": d["tag"], "text": d["text"]} for d in described] == [
        expected for _, expected in DESCRIBED
    ]


def test_the_descriptor_records_what_finds_the_element_again(chromium: str) -> None:
    """The rest of the record (ARCHITECTURE.md §11): attributes, label, form, landmark, the
    texts beside it and its index among its tag's elements in its landmark."""
    page_html = (
        "<header><nav aria-label='Main'><a href='/home?tab=1' title='Home page'>Home</a>"
        "<a href='https://elsewhere.test/x'>Out</a></nav></header>"
        "<main id='content'><h2>Order 7</h2><form id='f' action='/orders/7'>"
        "<label for='n'>Note:</label><input id='n' name='note' placeholder='Say why'>"
        "<button type='submit' name='_save' value='go'>Save</button></form>"
        "<table><tr><td>A-1001</td><td><a href='/o/1'>Open</a></td></tr></table>"
        "<div role='textbox' contenteditable='true' aria-label='Body'></div></main>"
    )

    async def describe() -> list[Any]:
        async with open_page(chromium) as page:
            await page.set_content(page_html)
            return [
                await page.locator(css).first.evaluate(DESCRIBE_JS)
                for css in ("nav a", "nav a >> nth=1", "#n", "button", "td a", "[role=textbox]")
            ]

    home, out, note, save, open_, body = run_async(describe())
    assert home == {
        "tag": "a",
        "text": "Home",
        "title": "Home page",
        "href": "/home?tab=1",
        "landmark": 'nav[aria-label="Main"]',
        "index": 0,
    }
    assert out["href"] == "https://elsewhere.test/x"  # another origin stays in the address
    form = {"action": "/orders/7", "fields": ["_save", "note"]}
    assert note == {
        "tag": "input",
        "text": "Note:",
        "id": "n",
        "name": "note",
        "placeholder": "Say why",
        "label": "Note:",
        "form": form,
        "landmark": "form#f",
        "index": 0,
        "near": ["Order 7"],
    }
    assert save == {
        "tag": "button",
        "text": "Save",
        "name": "_save",
        "type": "submit",
        "value": "go",
        "form": form,
        "landmark": "form#f",
        "index": 0,
        "near": ["Order 7", "Note:"],
    }
    assert (open_["row"], open_["near"], open_["landmark"]) == (
        "A-1001",
        ["Order 7"],
        "main#content",
    )
    assert body["editable"] is True and body["role"] == "textbox"


def posted(portal: Portal) -> list[str]:
    """The paths of the forms posted since the last look (the site is cleared)."""
    paths = [p.path for p in portal.site.posts]
    portal.site.clear()
    return paths


def record(cache: Cache, run: Run) -> GenerateResult:
    (run_id,) = record_only(cache.sessions, [parse_event(e) for e in run.events], SEAL_KEY)
    return generate_now(cache.sessions, cache.store, run_id)


def learn(chromium: str, portal: Portal, cache: Cache) -> None:
    """The stand-in agent's run of the portal workflow, learned; the site's log cleared."""
    assert record(
        cache, run_async(agent_run(chromium, portal.base_url, ALICE, "wr_agent"))
    ).regenerated
    portal.site.clear()


def replay(chromium: str, cache: Cache, run_id: str) -> Run:
    """The live revision from code, the stand-in agent plugged in."""
    files, definition = cache.live(WPID)
    with cache.sessions() as session:
        revision = read.select_revision(session, read.resolve_script(session, WPID, None), None)
    return run_async(
        replay_with_agent(
            chromium,
            files,
            definition,
            ALICE,
            script_id=revision.script_id,
            version=revision.version,
            run_id=run_id,
        )
    )


def test_without_an_agent_the_decoy_is_never_clicked_and_the_refund_button_is_found_again(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    learn(chromium, portal, cache)
    code = cache.live(WPID)[0]["blocks/request_refund.py"].decode()
    assert "expect=('button', 'Request refund', {" in code
    portal.site.decoy = True

    files, definition = cache.live(WPID)
    result = run_async(
        replay_revision(
            files,
            definition,
            ALICE.parameters(),
            ALICE.credentials(),
            chromium_path=chromium,
            hooks=Hooks(extractor=read_status_total),
            selector_timeout_s=1.0,
        )
    )

    result.raise_for_error()
    assert [(r.label, r.selector, r.xpath) for r in result.relocations] == [
        ("request_refund", "/html/body/form/button", "/html/body/form/button[2]")
    ]
    assert posted(portal) == ["/login", "/refunds"]  # the refund, never the draft


def test_the_decoy_is_relocated_without_the_agent_and_the_next_replay_runs_from_code(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    learn(chromium, portal, cache)
    portal.site.decoy = True

    caught = replay(chromium, cache, "wr_decoy")
    assert (caught.fallbacks, caught.calls) == ([], [])
    assert caught.relocated == [("request_refund", None)]
    assert posted(portal) == ["/login", "/refunds"]
    repaired = record(cache, caught)
    assert repaired.regenerated and repaired.labels == ("request_refund",)
    code = cache.live(WPID)[0]["blocks/request_refund.py"].decode()
    assert "'/html/body/form/button[2]'" in code
    assert "expect=('button', 'Request refund', {" in code

    fixed = replay(chromium, cache, "wr_decoy_fixed")
    assert (fixed.fallbacks, fixed.relocated, fixed.calls) == ([], [], [])
    assert posted(portal) == ["/login", "/refunds"]


@pytest.mark.parametrize(
    ("expect", "clicked", "status"),
    [
        (("button", "Save as draft"), 1, "completed"),
        (("button", "Request refund"), 0, "skipped"),
        (("a", None), 0, "skipped"),
    ],
)
def test_an_optional_action_on_another_element_counts_as_absent(
    chromium: str, expect: tuple[str, str | None], clicked: int, status: str
) -> None:
    async def run() -> tuple[int, list[dict[str, Any]]]:
        async with open_page(chromium) as page:
            await page.set_content(
                "<button onclick='window.clicks = (window.clicks || 0) + 1'>Save as draft</button>"
            )
            journal = Journal()
            journal.started("banner", None)
            runtime = BrowserPage(page, journal, selector_timeout_s=1.0, optional_timeout_s=0.5)
            await runtime.click(
                "/html/body/button", intention="Close it", optional=True, expect=expect
            )
            return await page.evaluate("window.clicks || 0"), journal.current.actions  # type: ignore[union-attr]

    clicks, actions = run_async(run())

    assert clicks == clicked
    assert [(a["status"], a["source"]) for a in actions] == [(status, "code")]
