"""The two ways the tag+text rule acted on a wrong element (issue 27), reproduced on pages
served on loopback and judged by the server's own request log: a user comment's link that
carries the recorded link's old text, and a wizard's previous step whose "Next" is still the
only one on screen. Each element is recorded on the site before its change as the recorders
record it (DESCRIBE_JS); the scripts generated before issue 27 passed only `(tag, text)`."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.pages import serve_pages
from tests.support.browser import run_async
from worker.browser.chromium import open_page
from worker.browser.journal import Journal
from worker.browser.page import BrowserPage, SelectorNotFound
from worker.runtime.identity import DESCRIBE_JS

ORDER_V1 = """<main id="content"><h1>Order 7</h1>
<p><a id="refund" href="/orders/7/refund">Request refund</a></p>
<section id="comments"><h2>Comments</h2></section></main>"""
# The shop renamed its link and moved it; a customer's comment carries the old text.
ORDER_V2 = """<main id="content"><h1>Order 7</h1>
<div class="actions"><a id="refund" href="/orders/7/refund">Ask for a refund</a></div>
<section id="comments"><h2>Comments</h2>
<article><p>mallory wrote: <a href="/comments/3/go">Request refund</a></p></article>
</section></main>"""


async def described(page: Any, css: str) -> tuple[str, str | None, dict[str, Any]]:
    element: dict[str, Any] = await page.locator(css).first.evaluate(DESCRIBE_JS)
    return element.pop("tag"), element.pop("text"), element


def replay_order(chromium: str, rich: bool) -> tuple[list[tuple[str, str]], Journal, Any]:
    pages = {"/v1": ORDER_V1, "/v2": ORDER_V2}
    with serve_pages(pages) as (base, log):

        async def run() -> tuple[Journal, Any]:
            async with open_page(chromium) as page:
                await page.goto(f"{base}/v1")
                tag, text, attributes = await described(page, "#refund")
                expect: Any = (tag, text, attributes) if rich else (tag, text)
                journal = Journal()
                journal.started("request_refund", None)
                runtime = BrowserPage(page, journal, selector_timeout_s=2.0)
                await runtime.goto(f"{base}/v2", intention="Open the block's start page")
                error: Exception | None = None
                try:
                    await runtime.click(
                        "/html/body/main/p/a", intention="Request a refund", expect=expect
                    )
                except SelectorNotFound as exc:
                    error = exc
                return journal, error

        journal, error = run_async(run())
        return [entry for entry in log if entry[1] != "/favicon.ico"], journal, error


def test_a_renamed_link_is_found_by_its_address_never_the_comment_link_with_its_old_text(
    chromium: str,
) -> None:
    log, journal, error = replay_order(chromium, rich=True)

    assert error is None
    assert ("GET", "/comments/3/go") not in log
    assert log[-1] == ("GET", "/orders/7/refund")
    [moved] = journal.relocations
    assert moved.xpath == "/html/body/main/div/a"


def test_a_recording_of_tag_and_text_alone_stops_rather_than_follow_the_comment_link(
    chromium: str,
) -> None:
    log, journal, error = replay_order(chromium, rich=False)

    assert isinstance(error, SelectorNotFound)
    assert ("GET", "/comments/3/go") not in log
    assert journal.relocations == []


WIZARD = """<script>
async function next(step) {
  await fetch('/wizard/step' + step, {method: 'POST', body: 'x'});
  if (step === 1) setTimeout(() => { document.getElementById('s2').hidden = false; }, 800);
}
</script>
WRAP_OPEN<form id="wizard" action="/wizard">
<fieldset><legend>Step 1: Name</legend><input name="name">
<button type="button" onclick="next(1)">Next</button></fieldset>
<fieldset id="s2" SHOWN><legend>Step 2: Address</legend><input name="street">
<button type="button" onclick="next(2)">Next</button></fieldset>
</form>WRAP_CLOSE"""


def wizard(shown: bool, wrapped: bool) -> str:
    return (
        WIZARD.replace("SHOWN", "" if shown else "hidden")
        .replace("WRAP_OPEN", "<main><div class='card'>" if wrapped else "")
        .replace("WRAP_CLOSE", "</div></main>" if wrapped else "")
    )


@pytest.mark.parametrize("selector_timeout_s", [1.5, 5.0])
def test_the_previous_steps_next_button_is_never_clicked_twice(
    chromium: str, selector_timeout_s: float
) -> None:
    """Recorded on the wizard as it was; replayed after a redesign wrapped it (every xpath
    moved): step 1's "Next" is relocated, then step 2's is waited for, not taken to be step
    1's, the only "Next" on screen for 800 ms."""
    pages = {"/recorded": wizard(True, False), "/today": wizard(False, True)}
    with serve_pages(pages) as (base, log):

        async def run() -> Journal:
            async with open_page(chromium) as page:
                await page.goto(f"{base}/recorded")
                one = await described(page, "fieldset:nth-of-type(1) button")
                two = await described(page, "#s2 button")
                journal = Journal()
                journal.started("wizard", None)
                runtime = BrowserPage(page, journal, selector_timeout_s=selector_timeout_s)
                await runtime.goto(f"{base}/today", intention="Open the block's start page")
                await runtime.click(
                    "/html/body/form/fieldset[1]/button", intention="Click 'Next'", expect=one
                )
                await runtime.click(
                    "/html/body/form/fieldset[2]/button", intention="Click 'Next'", expect=two
                )
                await page.wait_for_timeout(300)  # the last fetch reaches the server
                return journal

        journal = run_async(run())
        posts = [path for method, path in log if method == "POST"]

    assert posts == ["/wizard/step1", "/wizard/step2"]
    assert [r.xpath for r in journal.relocations] == [
        "/html/body/main/div/form/fieldset[1]/button",
        "/html/body/main/div/form/fieldset[2]/button",
    ]


# One "Next" that the page swaps for a new one 800 ms after step 1 posted: until then the
# step-2 selector designates step 1's button, the element the previous action was
# performed on.
REUSED = """<script>
async function advance(step) {
  await fetch('/wizard/step' + step, {method: 'POST', body: 'x'});
  if (step === 1) setTimeout(() => {
    document.getElementById('legend').textContent = 'Step 2: Address';
    document.getElementById('slot').innerHTML =
      '<button type="button" name="next" onclick="advance(2)">Next</button>';
  }, 800);
}
</script>
<form id="wizard"><fieldset><legend id="legend">STEP</legend><input name="field">
<div id="slot"><button type="button" name="next" onclick="advance(1)">Next</button></div>
</fieldset></form>"""
NEXT = "/html/body/form/fieldset/div/button"


def test_a_next_button_at_the_same_selector_is_waited_for_until_the_page_replaces_it(
    chromium: str,
) -> None:
    """Both steps' "Next" recorded at one xpath, each with its own step: the second click
    waits until the page has replaced the button it just clicked (the mark of the element
    acted on, made by the read after the action), and each step is posted once."""
    pages = {
        "/recorded1": REUSED.replace("STEP", "Step 1: Name"),
        "/recorded2": REUSED.replace("STEP", "Step 2: Address"),
        "/today": REUSED.replace("STEP", "Step 1: Name"),
    }
    with serve_pages(pages) as (base, log):

        async def run() -> Journal:
            async with open_page(chromium) as page:
                await page.goto(f"{base}/recorded1")
                one = await described(page, "button")
                await page.goto(f"{base}/recorded2")
                two = await described(page, "button")
                assert one != two  # the step's legend is beside each
                journal = Journal()
                journal.started("wizard", None)
                runtime = BrowserPage(page, journal, selector_timeout_s=5.0)
                await runtime.goto(f"{base}/today", intention="Open the block's start page")
                await runtime.click(NEXT, intention="Click 'Next'", expect=one)
                await runtime.click(NEXT, intention="Click 'Next'", expect=two)
                await page.wait_for_timeout(300)  # the last fetch reaches the server
                return journal

        journal = run_async(run())
        posts = [path for method, path in log if method == "POST"]

    assert posts == ["/wizard/step1", "/wizard/step2"]
    assert journal.relocations == []
