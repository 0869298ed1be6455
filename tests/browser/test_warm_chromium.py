"""One warm Chromium, many replays (worker/browser/chromium.py `WarmChromium`): each replay gets
a browser context of its own, so runs never share cookies or storage, and a page that crashes
takes no other replay down. Real Chromium, the loopback portal."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.portal import Portal
from worker.browser.chromium import WarmChromium, open_page, warm_chromium


def test_replays_in_one_warm_chromium_share_no_cookies_or_storage(
    chromium: str, portal: Portal
) -> None:
    async def scenario() -> tuple[list[str], list[str | None], int]:
        async with warm_chromium(chromium) as browser:
            async with open_page(chromium) as first, open_page(chromium) as second:
                await first.goto(f"{portal.base_url}/login")
                await second.goto(f"{portal.base_url}/login")
                await first.context.add_cookies(
                    [{"name": "run", "value": "first", "url": portal.base_url}]
                )
                await first.evaluate("localStorage.setItem('run', 'first')")
                cookies = [c["value"] for c in await second.context.cookies() if c["name"] == "run"]
                stored = [await second.evaluate("localStorage.getItem('run')")]
                assert first.context is not second.context
            # Each page's context was closed on the way out; the browser stays up.
            return cookies, stored, len(browser._browser.contexts) if browser._browser else -1

    cookies, stored, open_contexts = asyncio.run(scenario())
    assert cookies == [] and stored == [None]
    assert open_contexts == 0


def test_a_crashed_page_takes_no_other_replay_down(chromium: str, portal: Portal) -> None:
    async def crash() -> None:
        async with open_page(chromium) as page:
            await page.goto(f"{portal.base_url}/login")
            await page.goto("chrome://crash")  # the renderer process dies

    async def survive() -> str:
        async with open_page(chromium) as page:
            await page.goto(f"{portal.base_url}/login")
            await asyncio.sleep(0.5)  # the crash happens meanwhile
            await page.reload()
            return await page.title()

    async def scenario() -> tuple[list[object], bool]:
        async with warm_chromium(chromium) as browser:
            outcomes = await asyncio.gather(crash(), survive(), return_exceptions=True)
            async with open_page(chromium) as page:  # and the next replay still runs
                await page.goto(f"{portal.base_url}/login")
            return outcomes, browser.connected

    (crashed, title), connected = asyncio.run(scenario())
    assert isinstance(crashed, Exception), crashed  # the crashed replay fails, alone
    assert isinstance(title, str) and title, title
    assert connected


def test_a_page_outside_a_warm_block_starts_its_own_chromium(chromium: str, portal: Portal) -> None:
    async def scenario() -> bool:
        warm = await WarmChromium(chromium).start()
        try:
            await warm.close()
            with pytest.raises(RuntimeError, match="not running"):
                async with warm.page():
                    pass
            async with open_page(chromium) as page:  # no warm browser in this context
                await page.goto(f"{portal.base_url}/login")
                return "Sign in" in await page.content()
        finally:
            await warm.close()

    assert asyncio.run(scenario())


def test_a_page_opened_for_a_cdp_agent_has_a_devtools_port_and_no_other_page_has(
    chromium: str, portal: Portal
) -> None:
    import json
    import urllib.request

    from worker.browser.chromium import devtools_url

    async def scenario() -> tuple[str | None, str, str | None, str | None]:
        async with warm_chromium(chromium):
            async with open_page(chromium) as page:
                plain = devtools_url()
                assert page is not None
            async with open_page(chromium, devtools=True) as page:
                await page.goto(f"{portal.base_url}/login")
                address = devtools_url()
                assert address is not None
                with urllib.request.urlopen(f"{address}/json/list", timeout=5) as answer:
                    urls = [t["url"] for t in json.load(answer) if t["type"] == "page"]
                    listed = " ".join(urls)
        return plain, listed, address, devtools_url()

    plain, listed, address, after = asyncio.run(scenario())
    assert plain is None and after is None
    assert address is not None and address.startswith("http://127.0.0.1:")
    assert f"{portal.base_url}/login" in listed  # the replay's own page, on that port
