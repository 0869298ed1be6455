"""A click in real Chromium (worker/browser/page.py `click_once`): at once when the element
can be clicked now, else after Playwright's own checks; never through something covering it,
and exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from tests.support.browser import run_async
from worker.browser.chromium import open_page
from worker.browser.page import CLICKABLE_NOW_JS, click_once, on_first

PAGE = """<body style="margin:0">
<script>window.clicks = {};
function hit(id) { window.clicks[id] = (window.clicks[id] || 0) + 1; }</script>
<button id="plain" style="position:absolute; top:100px" onclick="hit('plain')">Plain</button>
<button id="covered" style="position:absolute; top:10px" onclick="hit('covered')">Covered
</button>
<div id="cover" onclick="hit('cover')"
     style="position:fixed; top:0; left:0; width:100%; height:60px; background:#eee"></div>
<button id="off" disabled onclick="hit('off')">Disabled</button>
<button id="late" style="display:none; position:absolute; top:200px"
        onclick="hit('late')">Late</button>
<div style="height:3000px"></div>
<button id="below" onclick="hit('below')">Below the fold</button>
<iframe srcdoc="<button id=inner>In a frame</button>"></iframe>
</body>"""


async def on_page(chromium: str, check: Any) -> Any:
    async with open_page(chromium) as page:
        await page.set_content(PAGE)  # the cover lies over "covered", not over "plain"
        return await check(page)


async def clicks(page: Page) -> dict[str, int]:
    return dict(await page.evaluate("window.clicks"))


def test_whether_an_element_can_be_clicked_now_is_read_in_one_evaluate(chromium: str) -> None:
    async def check(page: Page) -> dict[str, bool]:
        found = {
            css: await page.locator(css).first.evaluate(CLICKABLE_NOW_JS)
            for css in ("#plain", "#covered", "#off", "#late", "#below")
        }
        frame = page.frame_locator("iframe").locator("#inner")
        found["iframe"] = await frame.evaluate(CLICKABLE_NOW_JS)
        return found

    assert run_async(on_page(chromium, check)) == {
        "#plain": True,
        "#covered": False,
        "#off": False,
        "#late": False,
        "#below": False,
        "iframe": False,
    }


def test_on_first_reads_the_first_element_now_or_answers_empty_at_once(chromium: str) -> None:
    async def check(page: Page) -> tuple[list[Any], list[Any], list[Any], float]:
        loop = asyncio.get_running_loop()
        started = loop.time()
        missing = await on_first(page.locator("#nowhere"), "el => el.id")
        waited = loop.time() - started
        first = await on_first(page.locator("button").first, "el => el.id")
        clickable = await on_first(page.locator("#plain"), CLICKABLE_NOW_JS)
        return missing, first, clickable, waited

    missing, first, clickable, waited = run_async(on_page(chromium, check))
    assert (missing, first, clickable) == ([], ["plain"], [True])
    assert waited < 1.0  # no wait for an element that is not there


def test_a_clickable_element_is_clicked_once_and_a_covered_one_never(chromium: str) -> None:
    async def check(page: Page) -> tuple[dict[str, int], bool]:
        await click_once(page.locator("#plain"), 2000)
        try:
            await click_once(page.locator("#covered"), 500)
        except PlaywrightTimeoutError:
            refused = True
        else:
            refused = False
        return await clicks(page), refused

    done, refused = run_async(on_page(chromium, check))
    assert refused
    assert done == {"plain": 1}  # neither the covered button nor its cover was clicked


@pytest.mark.parametrize("element", ["#late", "#below", "#off"])
def test_an_element_not_clickable_at_once_gets_playwrights_checks(
    chromium: str, element: str
) -> None:
    """Shown later, below the fold (scrolled to), or disabled (never: a timeout)."""

    async def check(page: Page) -> tuple[dict[str, int], bool]:
        await page.evaluate(
            "setTimeout(() => document.getElementById('late').style.display = 'inline', 300)"
        )
        try:
            await click_once(page.locator(element), 2000)
        except PlaywrightTimeoutError:
            return await clicks(page), False
        return await clicks(page), True

    done, clicked = run_async(on_page(chromium, check))
    name = element.lstrip("#")
    if name == "off":
        assert (done, clicked) == ({}, False)
    else:
        assert (done, clicked) == ({name: 1}, True)
