"""What a block's outcome check and an extraction's reader cost (ARCHITECTURE.md §12), in real
Chromium on the portal, against what a hand-written Playwright script spends on the same
question in the same process.

    .venv/bin/python bench/bench_outcomes.py [--rounds 200]

Per call, medians over interleaved rounds on one signed-in page of an order:
- the outcome check as generated for a block that moved on (path only) and for one that ended
  where it started (path and title), against `page.title()` (one round trip, the least a
  script asking "where am I" pays);
- the reader of read_order (two fields found by their recorded selector and checked), against
  two `inner_text()` calls by id (a hand-written read) and the portal's extractor hook.
Prints a table; asserts nothing about timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.async_api import Page as PlaywrightPage  # noqa: E402

from worker.browser.chromium import chromium_path, open_page  # noqa: E402
from worker.browser.journal import Journal  # noqa: E402
from worker.browser.page import BrowserPage, page_state  # noqa: E402
from worker.demo.portal.site import ACCOUNTS, Site, serve  # noqa: E402
from worker.demo.portal.workflow import read_status_total  # noqa: E402

USER = "alice@shop.test"
ORDER = "A-1001"


async def sign_in(page: PlaywrightPage, base: str) -> None:
    await page.goto(f"{base}/login")
    await page.locator("#cookie-banner button").click()
    await page.fill("input[name=username]", USER)
    await page.fill("input[name=password]", ACCOUNTS[USER].password)
    await page.click("#sign-in")
    await page.goto(f"{base}/orders/{ORDER}")


async def timed(rounds: int, calls: dict[str, Callable[[], Awaitable[object]]]) -> dict[str, float]:
    """Median milliseconds per call of each, interleaved round by round."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            await call()
            samples[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


async def main(rounds: int) -> None:
    site = Site()
    with serve(site) as base:
        async with open_page(chromium_path(os.environ)) as page:
            await sign_in(page, base)
            runtime = BrowserPage(page, Journal(), selector_timeout_s=2.0)
            state = await page_state(page, await read_status_total(page, None, None, None))
            fields = {
                f["path"][0]: {
                    "expect": (f["element"]["tag"], None, {"id": f["element"]["id"]}),
                    "selector": f["xpath"],
                    **({"before": f["before"]} if f["before"] else {}),
                    **({"number": "float"} if f["path"][0] == "total" else {}),
                }
                for f in state["fields"]
            }
            path = f"/orders/{ORDER}"

            async def by_hand() -> object:
                return {
                    "status": await page.inner_text("#status"),
                    "total": await page.inner_text("#total"),
                }

            figures = await timed(
                rounds,
                {
                    "page.title() (baseline)": page.title,
                    "check: path": lambda: runtime.expect_outcome(path=path),
                    "check: path and title": lambda: runtime.expect_outcome(
                        path=path, title=f"Order {ORDER}"
                    ),
                    "inner_text x2 by id (baseline)": by_hand,
                    "reader: 2 fields": lambda: runtime.read(fields, None, None, intention=None),
                    "extractor hook (page text)": lambda: read_status_total(page, None, None, None),
                },
            )
            read = await runtime.read(fields, None, None, intention=None)
    print(f"rounds={rounds}, load average {os.getloadavg()[0]:.2f}; read back: {read}")
    base_check = figures["page.title() (baseline)"]
    base_read = figures["inner_text x2 by id (baseline)"]
    print(f"{'call':34} {'median ms':>10} {'ratio':>8}")
    for name, ms in figures.items():
        baseline = (
            base_read if "read" in name or "extractor" in name or "inner" in name else base_check
        )
        print(f"{name:34} {ms:10.3f} {ms / baseline:8.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    asyncio.run(main(parser.parse_args().rounds))
