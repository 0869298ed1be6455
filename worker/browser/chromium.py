"""Headless Debian Chromium under Playwright: where it lives, how it starts.

Playwright's own browser download is not used: the browser is the system's
(`apt-get install chromium`), found at SCRIPTCACHE_CHROMIUM_PATH.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Page as PlaywrightPage
from playwright.async_api import async_playwright

from worker.domain.errors import PermanentError

CHROMIUM_PATH_ENV = "SCRIPTCACHE_CHROMIUM_PATH"
DEFAULT_CHROMIUM_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
NAVIGATION_TIMEOUT_S = 30.0


class ChromiumMissing(PermanentError):
    """No Chromium executable at the configured path (apt-get install chromium)."""


def chromium_path(environ: Mapping[str, str]) -> str:
    """The configured Chromium executable: SCRIPTCACHE_CHROMIUM_PATH or the Debian default."""
    return environ.get(CHROMIUM_PATH_ENV, "").strip() or DEFAULT_CHROMIUM_PATH


def check_chromium(executable_path: str) -> Path:
    path = Path(executable_path)
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ChromiumMissing(
            f"no Chromium executable at {executable_path} (set {CHROMIUM_PATH_ENV}, "
            "or apt-get install -y chromium)"
        )
    return path


@asynccontextmanager
async def open_page(
    executable_path: str,
    *,
    headless: bool = True,
    navigation_timeout_s: float = NAVIGATION_TIMEOUT_S,
) -> AsyncIterator[PlaywrightPage]:
    """A fresh page in a fresh browser context; everything is closed on the way out."""
    check_chromium(executable_path)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable_path,
            headless=headless,
            args=list(CHROMIUM_ARGS),
        )
        try:
            context = await browser.new_context(accept_downloads=True)
            context.set_default_navigation_timeout(navigation_timeout_s * 1000)
            yield await context.new_page()
            await context.close()
        finally:
            await browser.close()
