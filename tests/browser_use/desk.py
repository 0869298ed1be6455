"""The help desk's task for browser-use (tests/realapp: Django's admin on loopback), and the
scripted model's answers for it: sign in, find an order through the admin's search, mark it
refunded, save. The element indexes come from browser-use's serialised page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.browser_use.model import ScriptedChatModel, Step, index_of

WPID = "wpid_browser_use_desk"
SECRET_KEY = "desk_password"


@dataclass(frozen=True)
class Inputs:
    username: str
    password: str
    order_number: str
    status: str  # the option's text, e.g. "Refunded"

    def parameters(self) -> dict[str, Any]:
        return {"username": self.username, "order_number": self.order_number, "status": self.status}

    def sensitive_data(self) -> dict[str, str]:
        return {SECRET_KEY: self.password}


def task(base_url: str, inputs: Inputs) -> str:
    return (
        f"Sign in to the help desk at {base_url}/admin/login/ as {inputs.username} with the "
        f"password <secret>{SECRET_KEY}</secret>, find order {inputs.order_number} among the "
        f"orders, set its status to {inputs.status} and save it."
    )


def steps(base_url: str, inputs: Inputs) -> list[Step]:
    return [
        Step(
            "Open the sign-in page", lambda s: [{"navigate": {"url": f"{base_url}/admin/login/"}}]
        ),
        Step(
            "Sign in",
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
                {"click": {"index": index_of(s, "input", attribute="value=Log in")}},
            ],
        ),
        Step(
            "Open the orders",
            lambda s: [{"navigate": {"url": f"{base_url}/admin/shop/order/"}}],
        ),
        Step(
            "Search for the order",
            lambda s: [
                {
                    "input": {
                        "index": index_of(s, "input", attribute="id=searchbar"),
                        "text": inputs.order_number,
                    }
                },
                {"click": {"index": index_of(s, "input", attribute="value=Search")}},
            ],
        ),
        Step(
            "Open the order found",
            lambda s: [{"click": {"index": index_of(s, "a", text=inputs.order_number)}}],
        ),
        Step(
            "Set the status and save",
            lambda s: [
                {
                    "select_dropdown": {
                        "index": index_of(s, "select", attribute="id=id_status"),
                        "text": inputs.status,
                    }
                },
                {"click": {"index": index_of(s, "input", attribute="name=_save")}},
            ],
        ),
        Step(
            "Report",
            lambda s: [
                {"done": {"text": f"Order {inputs.order_number}: {inputs.status}", "success": True}}
            ],
        ),
    ]


def model(base_url: str, inputs: Inputs) -> ScriptedChatModel:
    return ScriptedChatModel(steps(base_url, inputs))
