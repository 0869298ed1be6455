"""Headless Debian Chromium under Playwright: where it lives, how it starts.

Playwright's own browser download is not used: the browser is the system's, found at
SCRIPTCACHE_CHROMIUM_PATH, by default Debian's headless shell when it is installed
(`apt-get install chromium-headless-shell`), else Debian's Chromium (`apt-get install
chromium`): config/settings.py, `default_chromium_path`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path

from playwright.async_api import Browser, Playwright, async_playwright
from playwright.async_api import Page as PlaywrightPage

from config.settings import HEADLESS_SHELL_PATH, default_chromium_path
from worker.domain.errors import PermanentError

CHROMIUM_PATH_ENV = "SCRIPTCACHE_CHROMIUM_PATH"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
NAVIGATION_TIMEOUT_S = 30.0
# The address of the DevTools (CDP) port of the Chromium the current replay runs in, when it was
# opened with one (`open_page(devtools=True)`); see `devtools_url`.
_DEVTOOLS: ContextVar[str | None] = ContextVar("scriptcache_devtools_url", default=None)


class ChromiumMissing(PermanentError):
    """No Chromium executable at the configured path (apt-get install chromium)."""


def chromium_path(environ: Mapping[str, str]) -> str:
    """The configured Chromium executable: SCRIPTCACHE_CHROMIUM_PATH or the Debian default."""
    return environ.get(CHROMIUM_PATH_ENV, "").strip() or default_chromium_path()


def check_chromium(executable_path: str, *, headless: bool = True) -> Path:
    path = Path(executable_path)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ChromiumMissing(
            f"no Chromium executable at {executable_path} (set {CHROMIUM_PATH_ENV}, "
            "or apt-get install -y chromium-headless-shell chromium)"
        )
    if not headless and path.name == Path(HEADLESS_SHELL_PATH).name:
        raise ChromiumMissing(
            f"{executable_path} is Chromium's headless shell, which has no window: a headed "
            f"replay needs the full browser (set {CHROMIUM_PATH_ENV}=/usr/bin/chromium)"
        )
    return path


class WarmChromium:
    """One Chromium kept running for many replays, each in a browser context of its own (its
    own cookies, storage, cache and downloads, closed with the replay). Bound to the event
    loop it was started on. See `warm_chromium`."""

    def __init__(self, executable_path: str, *, headless: bool = True) -> None:
        self.executable_path = executable_path
        self.headless = headless
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None

    async def start(self) -> WarmChromium:
        check_chromium(self.executable_path, headless=self.headless)
        self._playwright = await async_playwright().start()
        try:
            self._browser = await self._playwright.chromium.launch(
                executable_path=self.executable_path,
                headless=self.headless,
                args=list(CHROMIUM_ARGS),
            )
        except BaseException:
            await self._playwright.stop()
            raise
        return self

    @property
    def connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
        self._browser = self._playwright = None

    @asynccontextmanager
    async def page(
        self, *, navigation_timeout_s: float = NAVIGATION_TIMEOUT_S
    ) -> AsyncIterator[PlaywrightPage]:
        """A fresh page in a fresh browser context, closed on the way out."""
        if self._browser is None or not self.connected:
            raise RuntimeError("this Chromium is not running (start() it, or it crashed)")
        context = await self._browser.new_context(accept_downloads=True)
        try:
            context.set_default_navigation_timeout(navigation_timeout_s * 1000)
            yield await context.new_page()
        finally:
            await context.close()


# The warm Chromium that `open_page` uses in this context (a task and what it awaits).
_WARM: ContextVar[WarmChromium | None] = ContextVar("scriptcache_warm_chromium", default=None)


@asynccontextmanager
async def warm_chromium(
    executable_path: str, *, headless: bool = True
) -> AsyncIterator[WarmChromium]:
    """Within this block, every replay (`open_page`) of the same executable runs in a browser
    context of one Chromium started here, instead of starting a Chromium of its own."""
    browser = await WarmChromium(executable_path, headless=headless).start()
    token = _WARM.set(browser)
    try:
        yield browser
    finally:
        _WARM.reset(token)
        await browser.close()


@asynccontextmanager
async def using(browser: WarmChromium) -> AsyncIterator[None]:
    """Within this block, `open_page` uses `browser` (already started, on this loop)."""
    token = _WARM.set(browser)
    try:
        yield
    finally:
        _WARM.reset(token)


def devtools_url() -> str | None:
    """The DevTools (CDP) address of the Chromium this replay runs in, when it was opened with
    one (`open_page(devtools=True)`: an agent plug-in with `needs_devtools`), so that an agent
    that speaks CDP itself drives the same browser and page as the script; else None."""
    return _DEVTOOLS.get()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def open_page(
    executable_path: str,
    *,
    headless: bool = True,
    navigation_timeout_s: float = NAVIGATION_TIMEOUT_S,
    devtools: bool = False,
) -> AsyncIterator[PlaywrightPage]:
    """A fresh page in a fresh browser context; everything is closed on the way out. Inside
    `warm_chromium` (or `using`) of the same executable and headless mode, the context is
    opened in that warm Chromium; otherwise a Chromium is started for this page alone.
    `devtools`: that Chromium also listens for CDP on a loopback port (`devtools_url`), never
    a warm one, which has none."""
    warm = _WARM.get()
    if (
        warm is not None
        and not devtools
        and (warm.executable_path, warm.headless) == (executable_path, headless)
    ):
        async with warm.page(navigation_timeout_s=navigation_timeout_s) as page:
            yield page
        return
    check_chromium(executable_path, headless=headless)
    port = _free_port() if devtools else None
    extra = [f"--remote-debugging-port={port}"] if port is not None else []
    token = _DEVTOOLS.set(f"http://127.0.0.1:{port}" if port is not None else None)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=executable_path,
                headless=headless,
                args=[*CHROMIUM_ARGS, *extra],
            )
            try:
                context = await browser.new_context(accept_downloads=True)
                context.set_default_navigation_timeout(navigation_timeout_s * 1000)
                yield await context.new_page()
                await context.close()
            finally:
                await browser.close()
    finally:
        _DEVTOOLS.reset(token)
