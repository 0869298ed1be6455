"""The portal workflow (site.py's pages): its definition, one run's inputs, and the extractor
that reads an order page. Sign in (the password is a credential parameter), a for_loop over
the order numbers (open the order by typing its number into the search box and pressing
Enter, then extract its status and total), a conditional (refund or support), a wait block.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Playwright is the optional `browser` extra
    from playwright.async_api import Page as PlaywrightPage

WPID = "wpid_browser_portal"
EXTRACTION_GOAL = "Extract the order status and total"
SCHEMA = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "total": {"type": "number"}},
}
SUPPORT_TEXT = "My order has not arrived yet."


@dataclass(frozen=True)
class Inputs:
    """One run's parameter values."""

    username: str
    password: str
    order_numbers: tuple[str, ...]
    action: str  # "refund" or "support"
    refund_reason: str = "damaged"

    def parameters(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "order_numbers": list(self.order_numbers),
            "action": self.action,
            "refund_reason": self.refund_reason,
        }

    def credentials(self) -> dict[str, Any]:
        return {"password": self.password}


def definition(base_url: str) -> dict[str, Any]:
    return {
        "title": "Shop portal: read orders, then refund or contact support",
        "cache_key": "default",
        "parameters": [
            {"key": "username", "parameter_type": "workflow"},
            {"key": "password", "parameter_type": "credential"},
            {"key": "order_numbers", "parameter_type": "workflow"},
            {"key": "action", "parameter_type": "workflow"},
            {"key": "refund_reason", "parameter_type": "workflow"},
        ],
        "blocks": [
            {
                "label": "sign_in",
                "block_type": "login",
                "url": f"{base_url}/login",
                "navigation_goal": "Sign in with the given username and password",
            },
            {
                "label": "each_order",
                "block_type": "for_loop",
                "loop_over": "order_numbers",
                "loop_blocks": [
                    {
                        "label": "open_order",
                        "block_type": "navigation",
                        "url": f"{base_url}/orders",
                        "navigation_goal": "Open order {{ current_value }}",
                    },
                    {
                        "label": "read_order",
                        "block_type": "extraction",
                        "data_extraction_goal": EXTRACTION_GOAL,
                        "data_schema": SCHEMA,
                    },
                ],
            },
            {
                "label": "route",
                "block_type": "conditional",
                "branches": [
                    {
                        "condition": "{{ action == 'refund' }}",
                        "blocks": [
                            {
                                "label": "request_refund",
                                "block_type": "task",
                                "url": f"{base_url}/refunds/new",
                                "navigation_goal": "Request a refund for the last order viewed",
                            }
                        ],
                    },
                    {
                        "condition": None,
                        "blocks": [
                            {
                                "label": "contact_support",
                                "block_type": "task",
                                "url": f"{base_url}/support",
                                "navigation_goal": "Ask support about the last order viewed",
                            }
                        ],
                    },
                ],
            },
            {"label": "settle", "block_type": "wait", "seconds": 1},
        ],
    }


_STATUS = re.compile(r"Status\s+(\S+)", re.IGNORECASE)  # v4: "Order status"
_TOTAL = re.compile(r"Total\s+EUR\s+([0-9.]+)|Amount\s+([0-9.]+)\s+EUR")  # v1 | v4


async def read_status_total(
    page: PlaywrightPage, goal: str | None, schema: Any, intention: str | None
) -> dict[str, Any]:
    """The portal's extractor: status and total from the order page's text."""
    text = await page.locator("body").inner_text()
    status, total = _STATUS.search(text), _TOTAL.search(text)
    if status is None or total is None:
        raise AssertionError(f"no status/total on {page.url}: {text[:200]!r}")
    return {"status": status.group(1), "total": float(total.group(1) or total.group(2))}
