"""The runtime's Page on Playwright: recorded selectors first, the platform's hooks after.

Each action looks its recorded selector up (an xpath when it starts with `/` or `(`, CSS
otherwise) and waits at most `selector_timeout_s` for it to be actionable. When that fails,
the fallback hook (the platform's agent) does that one action, and the journal records that
it fell back; with no hook, SelectorNotFound names the block, the action and the selector.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from playwright.async_api import Locator
from playwright.async_api import Page as PlaywrightPage
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from worker.browser.journal import FallbackRecord, Journal, first_line
from worker.errors import PermanentError

DEFAULT_SELECTOR_TIMEOUT_S = 5.0
PAGE_TEXT_CHARS = 2000
_KEYS = {"enter": "Enter", "return": "Enter", "tab": "Tab", "escape": "Escape",
         "esc": "Escape", "backspace": "Backspace", "space": "Space"}


class ReplayError(PermanentError):
    """A cached script could not be replayed."""


class SelectorNotFound(ReplayError):
    """A recorded selector was not found in time and no fallback hook was given."""


class NoSelector(ReplayError):
    """The action was recorded without a selector; only an agent can do it."""


class ExtractorMissing(ReplayError):
    """The script extracts data but no extractor hook was given."""


class FallbackHook(Protocol):
    """The platform's agent doing one action the recorded selector could not."""

    async def __call__(
        self, label: str | None, action_name: str, selector: str | None,
        intention: str | None, error: Exception, *, value: Any,
    ) -> None: ...


class ExtractorHook(Protocol):
    """Reads structured data off the page for an `extract` action."""

    async def __call__(
        self, page: PlaywrightPage, goal: str | None, schema: Any, intention: str | None
    ) -> Any: ...


async def page_text(
    page: PlaywrightPage, goal: str | None, schema: Any, intention: str | None
) -> Any:
    """An extractor without a model: the page's url and visible text, for the operator."""
    text = await page.locator("body").inner_text()
    return {"url": page.url, "text": text[:PAGE_TEXT_CHARS]}


def playwright_selector(selector: str) -> str:
    """A recorded selector in Playwright's syntax: `xpath=` for xpaths, CSS as it is."""
    return f"xpath={selector}" if selector.startswith(("/", "(")) else selector


def key_name(key: Any) -> str:
    text = str(key)
    return _KEYS.get(text.strip().lower(), text)


Perform = Callable[[Locator, float], Awaitable[None]]


class BrowserPage:
    """worker.runtime.Page on a Playwright page."""

    def __init__(
        self, page: PlaywrightPage, journal: Journal, *,
        fallback: FallbackHook | None = None, extractor: ExtractorHook | None = None,
        selector_timeout_s: float = DEFAULT_SELECTOR_TIMEOUT_S,
        downloads_dir: Path | None = None,
    ) -> None:
        self.page = page
        self.journal = journal
        self._fallback = fallback
        self._extractor = extractor
        self._timeout_ms = selector_timeout_s * 1000
        self._downloads_dir = downloads_dir

    async def goto(self, url: str, *, intention: str | None) -> None:
        await self.page.goto(str(url), wait_until="load")

    async def click(self, selector: str | None, *, intention: str | None) -> None:
        await self._act("click", selector, intention, lambda loc, ms: loc.click(timeout=ms))
        await self._settle()

    async def fill(self, selector: str | None, value: Any, *, intention: str | None) -> None:
        text = "" if value is None else str(value)
        await self._act("fill", selector, intention, lambda loc, ms: loc.fill(text, timeout=ms),
                        value=text)

    async def select_option(
        self, selector: str | None, value: Any, *, intention: str | None
    ) -> None:
        options = [str(v) for v in value] if isinstance(value, list | tuple) else str(value)

        async def select(locator: Locator, ms: float) -> None:
            await locator.select_option(options, timeout=ms)

        await self._act("select_option", selector, intention, select, value=options)

    async def upload_file(self, selector: str | None, path: Any, *, intention: str | None) -> None:
        files = [str(p) for p in path] if isinstance(path, list | tuple) else str(path)
        await self._act("upload_file", selector, intention,
                        lambda loc, ms: loc.set_input_files(files, timeout=ms), value=files)

    async def hover(self, selector: str | None, *, intention: str | None) -> None:
        await self._act("hover", selector, intention, lambda loc, ms: loc.hover(timeout=ms))

    async def press(self, selector: str | None, key: Any, *, intention: str | None) -> None:
        name = key_name(key)
        if selector is None:  # the agent pressed the key on whatever had focus
            focused = self.page.locator(":focus")
            # A locator's press waits for a navigation it starts; the keyboard's does not.
            if await focused.count():
                await focused.first.press(name)
            else:
                await self.page.keyboard.press(name)
        else:
            await self._act("press", selector, intention,
                            lambda loc, ms: loc.press(name, timeout=ms), value=name)
        await self._settle()

    async def scroll(self, selector: str | None, *, intention: str | None) -> None:
        if selector is None:
            await self.page.mouse.wheel(0, 600)
            return
        await self._act("scroll", selector, intention,
                        lambda loc, ms: loc.scroll_into_view_if_needed(timeout=ms))

    async def wait(self, seconds: float | None, *, intention: str | None) -> None:
        if seconds is None:
            await self.page.wait_for_load_state("load")
        else:
            await asyncio.sleep(seconds)

    async def extract(self, goal: str | None, schema: Any, *, intention: str | None) -> Any:
        label = self.journal.current_label
        if self._extractor is None:
            raise ExtractorMissing(
                f"block {label!r}: extract ({goal or intention!r}) needs an extractor hook"
            )
        value = await self._extractor(self.page, goal, schema, intention)
        self.journal.extracted.append((label, self.journal.loop_index, value))
        return value

    async def download(self, selector: str | None, *, intention: str | None) -> None:
        async def download(locator: Locator, ms: float) -> None:
            async with self.page.expect_download(timeout=ms) as info:
                await locator.click(timeout=ms)
            done = await info.value
            if self._downloads_dir is not None:
                await done.save_as(self._downloads_dir / done.suggested_filename)

        await self._act("download", selector, intention, download)

    async def solve_captcha(self, selector: str | None, *, intention: str | None) -> None:
        await self._fall_back("solve_captcha", selector, intention,
                              NoSelector("a captcha needs the agent"), None)

    async def _act(
        self, action: str, selector: str | None, intention: str | None, perform: Perform,
        value: Any = None,
    ) -> None:
        if selector is None:
            await self._fall_back(action, None, intention, NoSelector(
                f"{action} was recorded without a selector"), value)
            return
        locator = self.page.locator(playwright_selector(selector)).first
        try:
            await perform(locator, self._timeout_ms)
        except PlaywrightTimeoutError as exc:
            await self._fall_back(action, selector, intention, exc, value)

    async def _fall_back(
        self, action: str, selector: str | None, intention: str | None, error: Exception,
        value: Any,
    ) -> None:
        """Hand the action to the platform's hook, with the value it was to type, select,
        upload or press (a credential included: the hook is the platform's agent). The
        journal's record keeps no value."""
        label = self.journal.current_label
        if self._fallback is None:
            waited = self._timeout_ms / 1000
            what = (f"{action} on {selector!r} failed after {waited:g} s" if selector
                    else f"{action} has no recorded selector")
            raise SelectorNotFound(
                f"block {label!r}: {what} (intention: {intention!r}): {first_line(error)}"
            ) from error
        self.journal.fallbacks.append(
            FallbackRecord(label, action, selector, intention, first_line(error)))
        await self._fallback(label, action, selector, intention, error, value=value)

    async def _settle(self) -> None:
        """Let a navigation the action started finish before the next action looks."""
        await self.page.wait_for_load_state("load")
