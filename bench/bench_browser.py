"""What the browser costs by itself: Debian's headless shell against the full Chromium.

    .venv/bin/python bench/bench_browser.py                   # both, 10 iterations each
    .venv/bin/python bench/bench_browser.py --iterations 20

In one warm browser of each kind, after one warm-up: a new context and page, closed; the same
with 1 and with 5 navigations to the portal's login page (worker/demo/portal, served on
loopback); one navigation and a locator read. CPU is system-wide, from /proc/stat, so that the
browser's renderers are counted even after they exit: run it on a quiet machine. Prints the
figures and the ratio of the shell to the full browser; asserts nothing about timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Awaitable, Callable

from common import machine
from playwright.async_api import Browser, async_playwright

from config.settings import FULL_CHROMIUM_PATH, HEADLESS_SHELL_PATH
from worker.browser.chromium import CHROMIUM_ARGS
from worker.demo.portal.site import Site, serve

TICKS = os.sysconf("SC_CLK_TCK")


def busy_s() -> float:
    """CPU seconds the whole machine has spent busy since boot."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return (sum(values) - values[3] - values[4]) / TICKS


def steps(browser: Browser, url: str) -> dict[str, Callable[[], Awaitable[None]]]:
    async def context_only() -> None:
        context = await browser.new_context()
        await context.new_page()
        await context.close()

    async def navigations(n: int) -> None:
        context = await browser.new_context()
        page = await context.new_page()
        for _ in range(n):
            await page.goto(f"{url}/login")
        await context.close()

    async def with_locator() -> None:
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(f"{url}/login")
        await page.locator("xpath=//input[1]").first.is_visible()
        await context.close()

    return {
        "new context and page, closed": context_only,
        "the same and 1 navigation": lambda: navigations(1),
        "the same and 5 navigations": lambda: navigations(5),
        "1 navigation and a locator read": with_locator,
    }


async def measure(executable: str, url: str, iterations: int) -> dict[str, float]:
    found = {}
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=executable, args=list(CHROMIUM_ARGS)
        )
        try:
            for name, step in steps(browser, url).items():
                await step()  # warm-up
                cpu, wall = busy_s(), time.perf_counter()
                for _ in range(iterations):
                    await step()
                found[name] = (busy_s() - cpu) / iterations
                print(
                    f"{executable}: {name}: CPU {found[name]:.3f} s, "
                    f"wall {(time.perf_counter() - wall) / iterations:.3f} s",
                    flush=True,
                )
        finally:
            await browser.close()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=10)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with serve(Site()) as url:
        shell = asyncio.run(measure(HEADLESS_SHELL_PATH, url, args.iterations))
        full = asyncio.run(measure(FULL_CHROMIUM_PATH, url, args.iterations))
    print("\n| per iteration | headless shell CPU s | full Chromium CPU s | shell / full |")
    print("| --- | ---: | ---: | ---: |")
    for name in shell:
        print(
            f"| {name} | {shell[name]:.3f} | {full[name]:.3f} | x{shell[name] / full[name]:.2f} |"
        )


if __name__ == "__main__":
    main()
