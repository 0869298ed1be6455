"""One Chromium per test session, a fresh browser context per replay.

`run_async(coro)` is what the browser tests call instead of `asyncio.run`: it runs the
coroutine on one event loop kept for the session, inside `worker.browser.chromium.using` a
`WarmChromium` started on that loop at first use. Every `open_page` then opens a new browser
context (its own cookies, storage and downloads) in that Chromium instead of starting one
(about a second each). The session's teardown (tests/conftest.py) closes both.
"""

from __future__ import annotations

import asyncio
import atexit
import os
from collections.abc import Coroutine
from typing import Any, TypeVar

from worker.browser.chromium import WarmChromium, chromium_path, using

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_browser: WarmChromium | None = None


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` to its end on the session's loop, with the session's Chromium warm."""
    global _loop, _browser
    if _loop is None:
        _loop = asyncio.new_event_loop()
    if _browser is None or not _browser.connected:
        _browser = _loop.run_until_complete(WarmChromium(chromium_path(os.environ)).start())

    async def within() -> T:
        assert _browser is not None
        async with using(_browser):
            return await coro

    return _loop.run_until_complete(within())


def close() -> None:
    """Close the session's Chromium and loop, if they were started."""
    global _loop, _browser
    if _loop is not None:
        if _browser is not None:
            _loop.run_until_complete(_browser.close())
        _loop.run_until_complete(_loop.shutdown_asyncgens())
        _loop.close()
    _loop = _browser = None


atexit.register(close)  # a session that used it without the `chromium` fixture
