"""A stand-in agent for the help desk (no model), with the agent plug-in's two methods.

It works the way an agent does on a page it sees for the first time: it finds elements by
what the intention names (a field's label, a button's or link's accessible name, the quoted
words), clears a dialog that covers the page first (a precondition, reported before the
action it enables), and records each element as an absolute positional xpath (Chromium's
"Copy full XPath"), as real agents record them, with its descriptor (`element`: tag, text, id, ...
worker/runtime/identity.py) as seen before acting. Whole blocks (`run_block`) follow the
block's plan: which fields, which buttons, in which order (what a model would decide from
the goal); the page decides the rest. Every call is counted in `calls`.

The shapes are ARCHITECTURE.md §8's: `act(page, request) -> list[action]`,
`run_block(page, request) -> {"status", "actions", "extracted"}`; actions are event
`actions` items (`action_type`, `xpath`, `text`, `option`, `intention`, `parameter_key`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Locator, Page

from worker.demo.standin import _QUOTED
from worker.runtime.identity import DESCRIBE_JS, FULL_XPATH_JS

FIND_TIMEOUT_MS = 5_000
ORDER_SCHEMA = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "total": {"type": "string"}},
}
CONTACT_SCHEMA = {"type": "object", "properties": {"email": {"type": "string"}}}

_EVENT_TYPES = {
    "fill": "input_text",
    "click": "click",
    "select_option": "select_option",
    "press": "keypress",
    "hover": "hover",
    "upload_file": "upload_file",
}


class AgentFailed(Exception):
    """The agent could not do what it was asked."""


async def read_form(
    page: Page, goal: str | None, schema: Any, intention: str | None
) -> dict[str, Any]:
    """The extractor: the schema's fields as the page shows them (what a model reading the
    page returns), editable or read-only. Used by the agent and by replays alike."""
    values: dict[str, Any] = {}
    for name in (schema or {}).get("properties", {}):
        control = page.locator(f"[name='{name}']")
        shown = page.locator(f".field-{name} .readonly")  # a field the user may only view
        if await control.count() == 1:
            values[name] = await control.input_value()
        elif await shown.count() == 1:
            values[name] = (await shown.inner_text()).strip()
        else:
            raise AgentFailed(f"no single field {name!r} on {page.url} for {goal!r}")
    return values


@dataclass(frozen=True)
class Step:
    """One step of a block's plan: the runtime method, its intention, the value."""

    action: str  # fill | click | select_option | extract | complete
    intention: str
    value: Any = None
    parameter_key: str | None = None  # set only for credentials, as platforms record them


def plan(
    label: str,
    parameters: Mapping[str, Any],
    credentials: Mapping[str, Any],
    loop_value: Any,
    memory: Mapping[str, Any],
) -> list[Step]:
    """What the agent does in each block of the help-desk workflow (its decisions)."""

    def search_and_open(term: Any, what: str) -> list[Step]:
        return [
            Step("fill", f"Type the {what} into the 'Search' box", term),
            Step("click", "Click 'Search'"),
            Step("click", "Open the search result that matches the search"),
        ]

    if label == "sign_in":
        return [
            Step("fill", "Type the username into 'Username'", parameters["username"]),
            Step("fill", "Type the password into 'Password'", credentials["password"], "password"),
            Step("click", "Click 'Log in'"),
            Step("complete", "Signed in"),
        ]
    if label == "find_order":
        return [*search_and_open(loop_value, "order number"), Step("complete", "Order open")]
    if label == "read_order":
        return [Step("extract", "Read the status and total from the order form")]
    if label == "read_contact":
        return [
            *search_and_open(parameters["customer"], "customer name"),
            Step("extract", "Read the email from the customer form"),
        ]
    if label == "refund_order":
        return [
            *search_and_open(parameters["target_order"], "order number"),
            Step("select_option", "Choose 'Refunded' in 'Status'", "refunded"),
            Step("click", "Click 'Save'"),
            Step("complete", "Order marked refunded"),
        ]
    if label == "file_ticket":
        contact = memory.get("read_contact")
        if not isinstance(contact, Mapping) or "email" not in contact:
            raise AgentFailed("file_ticket: the customer's email was not read in this run")
        target = parameters["target_order"]
        return [
            Step("select_option", "Choose the order in 'Order'", target),
            Step("fill", "Type the customer's email into 'Contact email'", contact["email"]),
            Step("fill", "Type the subject into 'Subject'", f"Refund request for order {target}"),
            Step("click", "Click 'Save'"),
            Step("complete", "Ticket filed"),
        ]
    raise AgentFailed(f"no plan for block {label!r}")


def _exactly(name: str, *, colon: bool = False) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(name)}{':?' if colon else ''}\s*$", re.IGNORECASE)


@dataclass
class DeskAgent:
    """The stand-in agent. `calls` counts what it was asked: ("act"|"run_block", label)."""

    calls: list[tuple[str, str | None]] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)  # what it extracted in this run

    # --- the plug-in's two methods ----------------------------------------------------------

    async def act(self, page: Page, request: Mapping[str, Any]) -> list[dict[str, Any]]:
        self.calls.append(("act", request.get("label")))
        step = Step(request["action"], request.get("intention") or "", request.get("value"))
        return await self._perform(page, step)

    async def run_block(self, page: Page, request: Mapping[str, Any]) -> dict[str, Any]:
        label = request["label"]
        self.calls.append(("run_block", label))
        block = request.get("block") or {}
        steps = plan(
            label,
            request.get("parameters") or {},
            request.get("credentials") or {},
            request.get("loop_value"),
            self.memory,
        )
        if block.get("url"):
            await page.goto(block["url"], wait_until="load")
        actions: list[dict[str, Any]] = []
        extracted = None
        for step in steps:
            if step.action == "extract":
                extracted = await read_form(
                    page,
                    block.get("data_extraction_goal"),
                    block.get("data_schema"),
                    step.intention,
                )
                self.memory[label] = extracted
                actions.append(_item("extract", None, step))
            elif step.action == "complete":
                actions.append(_item("complete", None, step))
            else:
                actions.extend(await self._perform(page, step))
        return {"status": "completed", "actions": actions, "extracted": extracted}

    # --- seeing the page --------------------------------------------------------------------

    async def _perform(self, page: Page, step: Step) -> list[dict[str, Any]]:
        done = await self._clear_dialogs(page)
        element = await self._find(page, step)
        xpath = await element.evaluate(FULL_XPATH_JS)
        seen = await element.evaluate(DESCRIBE_JS)  # before acting: as the agent saw it
        target = page.locator(f"xpath={xpath}")
        if step.action == "fill":
            await target.fill("" if step.value is None else str(step.value))
        elif step.action == "select_option":
            await target.select_option(str(step.value))
        elif step.action == "click":
            await target.click()
            await page.wait_for_load_state("load")
        else:
            raise AgentFailed(f"the stand-in agent cannot {step.action}")
        return [*done, _item(_EVENT_TYPES[step.action], xpath, step, seen)]

    async def _clear_dialogs(self, page: Page) -> list[dict[str, Any]]:
        """A dialog over the page (a consent banner) is accepted first: a precondition."""
        done = []
        dialog = page.get_by_role("dialog")
        if await dialog.count() and await dialog.first.is_visible():
            button = dialog.first.get_by_role("button").first
            xpath = await button.evaluate(FULL_XPATH_JS)
            seen = await button.evaluate(DESCRIBE_JS)
            await button.click()
            done.append(
                _item("click", xpath, Step("click", "Accept the dialog that covers the page"), seen)
            )
        return done

    async def _find(self, page: Page, step: Step) -> Locator:
        names = _QUOTED.findall(step.intention)
        candidates: list[Locator] = []
        if step.action in ("fill", "select_option") and names:
            field_name = names[-1]
            candidates = [
                page.get_by_label(_exactly(field_name, colon=True)),
                page.get_by_role("textbox", name=_exactly(field_name)),
            ]
        elif step.action == "click" and names:
            candidates = [
                page.get_by_role("button", name=_exactly(names[0])),
                page.get_by_role("link", name=_exactly(names[0])),
                # the button is gone or renamed: the button that submits the form
                page.locator("main form").first.locator("[type=submit]"),
            ]
        elif step.action == "click":  # the search result: the link named like the search
            term = await page.get_by_role("textbox", name=_exactly("Search")).input_value()
            candidates = [page.locator("#result_list").get_by_role("link", name=_exactly(term))]
        for candidate in candidates:
            if await candidate.count():
                element = candidate.first
                await element.wait_for(state="visible", timeout=FIND_TIMEOUT_MS)
                return element
        raise AgentFailed(f"found nothing for {step.action} {step.intention!r} on {page.url}")


def _item(
    action_type: str, xpath: str | None, step: Step, element: dict[str, Any] | None = None
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "action_type": action_type,
        "xpath": xpath,
        "intention": step.intention,
        "text": None,
        "option": None,
        "parameter_key": step.parameter_key,
    }
    if element is not None:  # what it acted on (worker/runtime/identity.py)
        item["element"] = element
    if action_type == "input_text":
        item["text"] = None if step.value is None else str(step.value)
    elif action_type == "select_option":
        item["option"] = None if step.value is None else str(step.value)
    return item
