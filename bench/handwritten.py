"""The physical limit of a replay: the portal and help-desk workflows written by hand in
Playwright, the same actions on the same pages with the selectors the cached scripts use.

Nothing here imports scriptcache: each function is what a person would write for that one
workflow (Playwright's own waits, `expect_navigation` around the actions that load a page),
reading the same data the replay's extractor reads. bench/bench_replay_speed.py and
bench/bench_concurrency.py time them against the replay of the cached script.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from playwright.async_api import Page

# --- the portal (worker/demo/portal) -------------------------------------------------------

_STATUS = re.compile(r"Status\s+(\S+)")
_TOTAL = re.compile(r"Total\s+EUR\s+([0-9.]+)")


async def portal(
    page: Page,
    base_url: str,
    username: str,
    password: str,
    order_numbers: Sequence[str],
    refund_reason: str,
) -> list[dict[str, Any]]:
    """Sign in, read each order's status and total, request a refund for the last one."""
    await page.goto(f"{base_url}/login")
    await page.click("xpath=/html/body/div/div/button")  # the cookie banner
    await page.fill("xpath=/html/body/form/label[1]/input", username)
    await page.fill("xpath=/html/body/form/label[2]/input", password)
    async with page.expect_navigation():
        await page.click("xpath=/html/body/form/button")
    read = []
    for number in order_numbers:
        await page.goto(f"{base_url}/orders")
        await page.fill("xpath=/html/body/form/input", number)
        async with page.expect_navigation():
            await page.keyboard.press("Enter")
        text = await page.locator("body").inner_text()
        status, total = _STATUS.search(text), _TOTAL.search(text)
        if status is None or total is None:
            raise AssertionError(f"no status/total on {page.url}")
        read.append({"status": status.group(1), "total": float(total.group(1))})
    await page.goto(f"{base_url}/refunds/new")
    await page.select_option("xpath=/html/body/form/label/select", refund_reason)
    async with page.expect_navigation():
        await page.click("xpath=/html/body/form/button")
    return read


# --- the help desk (tests/realapp: Django's admin) ------------------------------------------

_MAIN = "/html/body/div/div/main/div/div"
_SEARCH = f"xpath={_MAIN}/div/div/div/form/div/input"  # [1] the box, [2] the button
_RESULT = f"xpath={_MAIN}/div/div/form/div/table/tbody/tr/th/a"
_TICKET = f"xpath={_MAIN}/form/div/fieldset"


async def _field(page: Page, name: str) -> str:
    """A field's value as the order and customer forms show it (editable or read-only)."""
    control = page.locator(f"[name='{name}']")
    if await control.count() == 1:
        return await control.input_value()
    return (await page.locator(f".field-{name} .readonly").inner_text()).strip()


async def _search_and_open(page: Page, list_url: str, term: str) -> None:
    await page.goto(list_url)
    await page.fill(f"{_SEARCH}[1]", term)
    async with page.expect_navigation():
        await page.click(f"{_SEARCH}[2]")
    async with page.expect_navigation():
        await page.click(_RESULT)


async def help_desk(
    page: Page,
    base_url: str,
    username: str,
    password: str,
    order_numbers: Sequence[str],
    customer: str,
    target_order: str,
) -> dict[str, Any]:
    """Sign in, open and read each order, read the customer's email, file a ticket about
    `target_order` addressed to it."""
    admin = f"{base_url}/admin"
    await page.goto(f"{admin}/login/")
    await page.fill(f"xpath={_MAIN}/form/div[1]/input", username)
    await page.fill(f"xpath={_MAIN}/form/div[2]/input[1]", password)
    async with page.expect_navigation():
        await page.click(f"xpath={_MAIN}/form/div[3]/input")
    orders = []
    for number in order_numbers:
        await _search_and_open(page, f"{admin}/shop/order/", number)
        orders.append(
            {"status": await _field(page, "status"), "total": await _field(page, "total")}
        )
    await _search_and_open(page, f"{admin}/shop/customer/", customer)
    email = await _field(page, "email")
    await page.goto(f"{admin}/shop/ticket/add/")
    await page.select_option(f"{_TICKET}/div[1]/div/div/div/select", target_order)
    await page.fill(f"{_TICKET}/div[2]/div/div/input", email)
    await page.fill(f"{_TICKET}/div[3]/div/div/input", f"Refund request for order {target_order}")
    async with page.expect_navigation():
        await page.click(f"xpath={_MAIN}/form/div/div/input[1]")
    return {"orders": orders, "email": email}
