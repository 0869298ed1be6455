"""The order portal's task for browser-use (worker/demo/portal/site.py), and the scripted
model's answers for it: what a model would decide from the task, step by step; the element
indexes come from browser-use's serialised page."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tests.browser_use.model import ScriptedChatModel, Step, index_of

WPID = "wpid_browser_use_portal"
SECRET_KEY = "portal_password"


@dataclass(frozen=True)
class Inputs:
    username: str
    password: str
    order_number: str
    reason: str  # the refund reason's option text, e.g. "Arrived damaged"

    def parameters(self) -> dict[str, Any]:
        return {"username": self.username, "order_number": self.order_number, "reason": self.reason}

    def sensitive_data(self) -> dict[str, str]:
        return {SECRET_KEY: self.password}


ALICE = Inputs("alice@shop.test", "alice-pw-7Qx!", "A-1002", "Arrived damaged")
BOB = Inputs("bob@shop.test", "bob-pw-Zk2#", "B-2001", "Arrived late")
# The task as a workflow definition writes it: its values as the parameters' templates.
TEMPLATES = Inputs("{{ username }}", "", "{{ order_number }}", "{{ reason }}")


def task(base_url: str, inputs: Inputs) -> str:
    return (
        f"Sign in at {base_url}/login as {inputs.username} with the password "
        f"<secret>{SECRET_KEY}</secret>, open order {inputs.order_number} with the search box, "
        f"extract its status and total, then request a refund for it: {inputs.reason}."
    )


def steps(base_url: str, inputs: Inputs) -> list[Step]:
    return [
        Step("Open the sign-in page", lambda s: [{"navigate": {"url": f"{base_url}/login"}}]),
        Step(
            "Dismiss the cookie banner",
            lambda s: [{"click": {"index": index_of(s, "button", text="Dismiss cookie banner")}}],
        ),
        Step(
            "Sign in with the username and password",
            lambda s: [
                {
                    "input": {
                        "index": index_of(s, "input", attribute="name=username"),
                        "text": inputs.username,
                    }
                },
                {
                    "input": {
                        "index": index_of(s, "input", attribute="type=password"),
                        "text": f"<secret>{SECRET_KEY}</secret>",
                    }
                },
                {"click": {"index": index_of(s, "button", attribute="id=sign-in")}},
            ],
        ),
        Step(
            "Search for the order and open it",
            lambda s: [
                {
                    "input": {
                        "index": index_of(s, "input", attribute="name=q"),
                        "text": inputs.order_number,
                    }
                },
                {"click": {"index": index_of(s, "button", text="Open")}},
            ],
        ),
        Step(
            "Extract the order status and total",
            lambda s: [{"extract": {"query": "the order status and total"}}],
        ),
        Step("Open the refund form", lambda s: [{"navigate": {"url": f"{base_url}/refunds/new"}}]),
        Step(
            "Choose the reason and request the refund",
            lambda s: [
                {
                    "select_dropdown": {
                        "index": index_of(s, "select", attribute="id=reason"),
                        "text": inputs.reason,
                    }
                },
                {"click": {"index": index_of(s, "button", attribute="id=submit-refund")}},
            ],
        ),
        Step(
            "Report the refund",
            lambda s: [
                {"done": {"text": f"Refund requested for {inputs.order_number}", "success": True}}
            ],
        ),
    ]


_STATUS = re.compile(r"Status\s*\W*\s*(\w+)")
_TOTAL = re.compile(r"Total\s*\W*\s*EUR\s*([0-9.]+)")


def extract(text: str) -> str:
    """The page-extraction model's answer: status and total from the page's markdown."""
    status, total = _STATUS.search(text), _TOTAL.search(text)
    if status is None or total is None:
        raise AssertionError(f"no status/total in the page given to extract: {text[:400]!r}")
    return json.dumps({"status": status.group(1), "total": total.group(1)})


def model(base_url: str, inputs: Inputs) -> ScriptedChatModel:
    return ScriptedChatModel(steps(base_url, inputs), extract=extract)
