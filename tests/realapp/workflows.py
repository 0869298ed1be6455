"""The help-desk workflow over Django's admin, and agent runs of it recorded in the event format.

The workflow signs in (the password is a credential), loops over a list of order numbers
(search, open, read each), reads a customer's email (an extraction), then either marks an
order refunded or files a ticket about it addressed to the email read before (a conditional
whose two branches change data), then waits (a block that is never cached).

`record_agent_run` is the agent's run: it drives Chromium through the application's real
pages, finding each element the way an agent does (by its label or accessible name) and
recording it the way real agents do: an absolute positional xpath (what Chromium's "Copy
full XPath" gives) and no `parameter_key` for values that came from workflow parameters
(the password alone is recorded with its credential key). Its events carry an agent's pace:
each block's recorded time is the browser's own time plus one model step (STEP_S) per
action and one to finish.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import Locator, Page

WPID = "wpid_realapp_helpdesk"
STEP_S = 3.0  # one agent (LLM) step
ORDER_SCHEMA = {"type": "object", "properties": {"status": {"type": "string"},
                                                 "total": {"type": "string"}}}
CONTACT_SCHEMA = {"type": "object", "properties": {"email": {"type": "string"}}}

# Chromium's "Copy full XPath": tag names from the root, an index only among same-tag siblings.
FULL_XPATH_JS = """el => {
  const parts = [];
  for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
    let index = 0, count = 0;
    for (const s of (n.parentElement ? n.parentElement.children : [n])) {
      if (s.localName === n.localName) { count++; if (s === n) index = count; }
    }
    parts.unshift(count > 1 ? `${n.localName}[${index}]` : n.localName);
  }
  return '/' + parts.join('/');
}"""


@dataclass(frozen=True)
class Inputs:
    """One run's parameter values."""

    username: str
    password: str
    order_numbers: tuple[str, ...]
    customer: str
    target_order: str
    action: str  # "refund" or "ticket"

    def parameters(self) -> dict[str, Any]:
        return {"username": self.username, "order_numbers": list(self.order_numbers),
                "customer": self.customer, "target_order": self.target_order,
                "action": self.action}

    def credentials(self) -> dict[str, Any]:
        return {"password": self.password}


def definition(base_url: str) -> dict[str, Any]:
    return {
        "title": "Help desk: review orders, then refund one or file a ticket about it",
        "cache_key": "default",
        "parameters": [
            {"key": "username", "parameter_type": "workflow"},
            {"key": "password", "parameter_type": "credential"},
            {"key": "order_numbers", "parameter_type": "workflow"},
            {"key": "customer", "parameter_type": "workflow"},
            {"key": "target_order", "parameter_type": "workflow"},
            {"key": "action", "parameter_type": "workflow"},
        ],
        "blocks": [
            {"label": "sign_in", "block_type": "login", "url": f"{base_url}/admin/login/",
             "navigation_goal": "Sign in to the help desk with the given credentials"},
            {"label": "each_order", "block_type": "for_loop", "loop_over": "order_numbers",
             "loop_blocks": [
                 {"label": "find_order", "block_type": "navigation",
                  "url": f"{base_url}/admin/shop/order/",
                  "navigation_goal": "Search for order {{ current_value }} and open it"},
                 {"label": "read_order", "block_type": "extraction",
                  "data_extraction_goal": "Read the order's status and total",
                  "data_schema": ORDER_SCHEMA},
             ]},
            {"label": "read_contact", "block_type": "extraction",
             "url": f"{base_url}/admin/shop/customer/",
             "data_extraction_goal": "Find customer {{ customer }} and read their email",
             "data_schema": CONTACT_SCHEMA},
            {"label": "route", "block_type": "conditional", "branches": [
                {"condition": "{{ action == 'refund' }}", "blocks": [
                    {"label": "refund_order", "block_type": "task",
                     "url": f"{base_url}/admin/shop/order/",
                     "navigation_goal": "Mark order {{ target_order }} as refunded"}]},
                {"condition": None, "blocks": [
                    {"label": "file_ticket", "block_type": "task",
                     "url": f"{base_url}/admin/shop/ticket/add/",
                     "navigation_goal": "File a ticket about order {{ target_order }} "
                                        "addressed to {{ read_contact.output.email }}"}]},
            ]},
            {"label": "settle", "block_type": "wait", "seconds": 1},
        ],
    }


def blocks_by_label(definition_: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}

    def walk(blocks: Iterable[dict[str, Any]]) -> None:
        for block in blocks:
            found[block["label"]] = block
            walk(block.get("loop_blocks", []))
            for branch in block.get("branches", []):
                walk(branch.get("blocks", []))

    walk(definition_["blocks"])
    return found


async def read_form(page: Page, goal: str | None, schema: Any, intention: str | None
                    ) -> dict[str, Any]:
    """The extractor: the schema's fields as the page's form shows them (what a model reading
    the page returns). Used by the recorded agent and by replays alike."""
    names = list((schema or {}).get("properties", {}))
    values: dict[str, Any] = {}
    for name in names:
        control = page.locator(f"[name='{name}']")
        shown = page.locator(f".field-{name} .readonly")  # a field the user may only view
        if await control.count() == 1:
            values[name] = await control.input_value()
        elif await shown.count() == 1:
            values[name] = (await shown.inner_text()).strip()
        else:
            raise AssertionError(f"no single field {name!r} on {page.url} for {goal!r}")
    return values


Find = Callable[[Page], Locator]


@dataclass(frozen=True)
class Step:
    """One agent step: how it finds its element, and what it records."""

    kind: str  # click | input_text | select_option | extract | complete
    intention: str
    find: Find | None = None
    text: str | None = None
    option: str | None = None
    parameter_key: str | None = None


def by_label(label: str) -> Find:
    return lambda page: page.get_by_label(label, exact=True)


def by_role(role: str, name: str) -> Find:
    return lambda page: page.get_by_role(role, name=name, exact=True)  # type: ignore[arg-type]


def first_result() -> Find:
    return lambda page: page.locator("#result_list tbody tr").first.get_by_role("link").first


def search_and_open(term: str, what: str) -> list[Step]:
    return [
        Step("input_text", f"Type the {what} into the 'Search' box", by_role("textbox", "Search"),
             text=term),
        Step("click", "Click 'Search'", by_role("button", "Search")),
        Step("click", f"Open the {what}'s row from the search results", first_result()),
    ]


def plan(block: str, inputs: Inputs, outputs: dict[str, Any], value: Any = None) -> list[Step]:
    """What the agent does in each block (its decisions; the page decides the rest)."""
    if block == "sign_in":
        return [
            Step("input_text", "Type the username into 'Username'", by_label("Username:"),
                 text=inputs.username),
            Step("input_text", "Type the password into 'Password'", by_label("Password:"),
                 text=inputs.password, parameter_key="password"),
            Step("click", "Click 'Log in'", by_role("button", "Log in")),
            Step("complete", "Signed in"),
        ]
    if block == "find_order":
        return [*search_and_open(str(value), "order number"), Step("complete", "Order open")]
    if block == "read_order":
        return [Step("extract", "Read the status and total from the order form")]
    if block == "read_contact":
        return [*search_and_open(inputs.customer, "customer name"),
                Step("extract", "Read the email from the customer form")]
    if block == "refund_order":
        return [*search_and_open(inputs.target_order, "order number"),
                Step("select_option", "Choose 'Refunded' in 'Status'", by_label("Status:"),
                     option="refunded"),
                Step("click", "Click 'Save'", by_role("button", "Save")),
                Step("complete", "Order marked refunded")]
    if block == "file_ticket":
        return [
            Step("select_option", "Choose the order in 'Order'", by_label("Order:"),
                 option=inputs.target_order),
            Step("input_text", "Type the customer's email into 'Contact email'",
                 by_label("Contact email:"), text=outputs["read_contact"]["email"]),
            Step("input_text", "Type the subject into 'Subject'", by_label("Subject:"),
                 text=f"Refund request for order {inputs.target_order}"),
            Step("click", "Click 'Save'", by_role("button", "Save")),
            Step("complete", "Ticket filed"),
        ]
    raise ValueError(f"no plan for block {block!r}")


@dataclass
class _Recorder:
    page: Page
    run_id: str
    base_url: str
    now: datetime
    events: list[dict[str, Any]] = field(default_factory=list)

    def event(self, kind: str, at: datetime, **fields: Any) -> None:
        self.events.append({"type": kind, "event_id": f"evt_{self.run_id}_{len(self.events)}",
                            "occurred_at": at.isoformat(), "workflow_run_id": self.run_id,
                            **fields})

    async def block(self, label: str, block_type: str, steps: list[Step], *,
                    url: str | None, parent: str | None = None,
                    loop: tuple[int, Any] | None = None, goal: str | None = None,
                    schema: Any = None) -> tuple[str, Any]:
        """Run one block as the agent; returns its run block id and extracted output."""
        started = time.monotonic()
        block_id = f"wrb_{self.run_id}_{len(self.events)}"
        if url is not None:
            await self.page.goto(url, wait_until="load")
        actions, output = [], None
        for i, step in enumerate(steps):
            xpath = None
            if step.find is not None:
                element = step.find(self.page)
                await element.wait_for(state="visible", timeout=10_000)
                xpath = await element.evaluate(FULL_XPATH_JS)
            if step.kind == "input_text":
                await self.page.locator(f"xpath={xpath}").fill(step.text or "")
            elif step.kind == "select_option":
                await self.page.locator(f"xpath={xpath}").select_option(step.option)
            elif step.kind == "click":
                await self.page.locator(f"xpath={xpath}").click()
                await self.page.wait_for_load_state("load")
            elif step.kind == "extract":
                output = await read_form(self.page, goal, schema, step.intention)
            actions.append({
                "action_id": f"act_{block_id}_{i}", "action_type": step.kind, "xpath": xpath,
                "intention": step.intention, "reasoning": None, "text": step.text,
                "option": step.option, "parameter_key": step.parameter_key,
                "status": "completed"})
        self.now += timedelta(seconds=time.monotonic() - started + STEP_S * (len(steps) + 1))
        task = None if not steps else {
            "task_id": f"tsk_{block_id}", "url": self.page.url, "navigation_goal": None,
            "data_extraction_goal": goal, "extracted_information_schema": schema}
        extra = {} if output is None else {"output": output}
        self.event("block_completed", self.now, workflow_run_block_id=block_id,
                   parent_workflow_run_block_id=parent, label=label, block_type=block_type,
                   status="completed", executed_with="agent",
                   loop_index=None if loop is None else loop[0],
                   loop_value=None if loop is None else loop[1], task=task, actions=actions,
                   **extra)
        return block_id, output


async def record_agent_run(page: Page, run_id: str, base_url: str, inputs: Inputs, *,
                           pause: Callable[[float], Awaitable[None]] | None = None
                           ) -> list[dict[str, Any]]:
    """The agent's run of the workflow on the live application, as the events it publishes.
    Every block runs with the agent; the application's data changes as the run says."""
    definition_ = definition(base_url)
    blocks = blocks_by_label(definition_)
    rec = _Recorder(page, run_id, base_url, datetime.now(UTC).replace(microsecond=0))
    rec.event("run_started", rec.now, workflow_permanent_id=WPID, workflow_version=1,
              definition=definition_,
              parameters={**inputs.parameters(), **inputs.credentials()},
              run_with="agent", code_gen=False)
    outputs: dict[str, Any] = {}
    await rec.block("sign_in", "login", plan("sign_in", inputs, outputs),
                    url=blocks["sign_in"]["url"])
    loop_id = f"wrb_{run_id}_each_order"
    loop_started = rec.now
    for index, number in enumerate(inputs.order_numbers):
        await rec.block("find_order", "navigation", plan("find_order", inputs, outputs, number),
                        url=blocks["find_order"]["url"], parent=loop_id, loop=(index, number))
        await rec.block("read_order", "extraction", plan("read_order", inputs, outputs),
                        url=None, parent=loop_id, loop=(index, number),
                        goal=blocks["read_order"]["data_extraction_goal"], schema=ORDER_SCHEMA)
    rec.now = max(rec.now, loop_started) + timedelta(seconds=STEP_S)
    rec.event("block_completed", rec.now, workflow_run_block_id=loop_id,
              parent_workflow_run_block_id=None, label="each_order", block_type="for_loop",
              status="completed", executed_with="agent", loop_index=None, loop_value=None,
              task=None, actions=[])
    contact = blocks["read_contact"]
    _, outputs["read_contact"] = await rec.block(
        "read_contact", "extraction", plan("read_contact", inputs, outputs),
        url=contact["url"], goal=f"Find customer {inputs.customer} and read their email",
        schema=CONTACT_SCHEMA)
    await rec.block("route", "conditional", [], url=None)
    branch = "refund_order" if inputs.action == "refund" else "file_ticket"
    await rec.block(branch, "task", plan(branch, inputs, outputs), url=blocks[branch]["url"])
    rec.now += timedelta(seconds=blocks["settle"]["seconds"])
    if pause is not None:
        await pause(blocks["settle"]["seconds"])
    rec.event("block_completed", rec.now, workflow_run_block_id=f"wrb_{run_id}_settle",
              parent_workflow_run_block_id=None, label="settle", block_type="wait",
              status="completed", executed_with="agent", loop_index=None, loop_value=None,
              task=None, actions=[])
    rec.event("run_finished", rec.now + timedelta(seconds=1), status="completed")
    return rec.events


def recorded_block_seconds(events: Iterable[dict[str, Any]]) -> float:
    """The recorded agent run's time: each block_completed's gap to the event before it, for
    top-level blocks and loop children alike (a loop's own event adds only its step)."""
    total, previous = 0.0, None
    for event in sorted(events, key=lambda e: e["occurred_at"]):
        at = datetime.fromisoformat(event["occurred_at"])
        if event["type"] == "block_completed" and previous is not None:
            total += (at - previous).total_seconds()
        previous = at
    return total
