"""A deterministic stand-in agent (no model) for tests, benchmarks and the demo.

It works the way an agent does on a page it sees for the first time: it finds elements by
what the intention names in quotes (a field's label or placeholder, a button's or link's
accessible name), clears a dialog that covers the page first (a precondition, reported
before the action it enables), and records each element as an absolute positional xpath
(Chromium's "Copy full XPath"), as real agents record them, so a redesign breaks them, with
the element as DESCRIBE_JS records it (`element`: tag, text, id, name, form, ..., worker/runtime/identity.py).
A button it cannot find by name is the submit button of the form it is working in.

What a model would decide from a block's goal (which fields, which buttons, in which order)
is given as a plan per label: `plans[label](request, memory) -> [Step, ...]`. The page
decides the rest. Every call is counted in `calls`. It is not a product feature.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Locator
from playwright.async_api import Page as PlaywrightPage

from worker.browser.agent import ActRequest, AgentFailed, BlockRequest, BlockResult
from worker.browser.page import ACTION_TYPES, key_name, press_focused
from worker.runtime.identity import DESCRIBE_JS, FULL_XPATH_JS

FIND_TIMEOUT_MS = 3_000
_QUOTED = re.compile(r"(?<![\w])'([^']+)'(?![\w])")  # 'Name', not the ' of customer's
DIALOG_INTENTION = "Close the dialog that covers the page"


@dataclass(frozen=True)
class Step:
    """One step of a block's plan: the runtime method, its intention, the value."""

    action: str  # fill | click | select_option | press | extract | complete
    intention: str
    value: Any = None
    parameter_key: str | None = None  # the parameter the value came from, if the agent knows


Plan = Callable[[BlockRequest, Mapping[str, Any]], list[Step]]
Extractor = Callable[[PlaywrightPage, Any, Any, Any], Awaitable[Any]]


@dataclass
class StandInAgent:
    """act() and run_block() of the agent plug-in, without a model."""

    plans: Mapping[str, Plan]
    extractor: Extractor | None = None  # (page, goal, schema, intention) -> data
    calls: list[tuple[str, str | None]] = field(default_factory=list)
    memory: dict[str, Any] = field(default_factory=dict)  # what it extracted in this run
    reasons: list[tuple[str, str]] = field(default_factory=list)  # (label, why) per run_block

    async def act(self, page: PlaywrightPage, request: ActRequest) -> list[dict[str, Any]]:
        self.calls.append(("act", request.get("label")))
        step = Step(request["action"], request.get("intention") or "", request.get("value"))
        return await self.perform(page, step)

    async def run_block(self, page: PlaywrightPage, request: BlockRequest) -> BlockResult:
        label = request["label"]
        self.calls.append(("run_block", label))
        self.reasons.append((label, request.get("reason", "")))
        plan = self.plans.get(label)
        if plan is None:
            raise AgentFailed(f"the stand-in agent has no plan for block {label!r}")
        block = request.get("block") or {}
        if request.get("reason", "").startswith("its outcome check failed"):
            # The script's actions ran; the page is not the one recorded. Judge it as a model
            # would: an error shown is a failure, anything else the site's new way (done).
            failed = await shows_an_error(page)
            return {"status": "failed" if failed else "completed", "actions": [], "extracted": None}
        steps = plan(request, self.memory)
        url = block.get("url")
        if url:
            await page.goto(render_url(url, request), wait_until="load")
        actions: list[dict[str, Any]] = []
        extracted = None
        for step in steps:
            if step.action == "extract":
                if self.extractor is None:
                    raise AgentFailed(f"block {label!r}: no extractor to read the page with")
                extracted = await self.extractor(
                    page,
                    block.get("data_extraction_goal"),
                    block.get("data_schema"),
                    step.intention,
                )
                self.memory[label] = extracted
                actions.append(item("extract", None, step))
            elif step.action == "complete":
                actions.append(item("complete", None, step))
            else:
                actions.extend(await self.perform(page, step))
        if await shows_an_error(page):  # as a model reads it: the site refused the block
            return {"status": "failed", "actions": actions, "extracted": None}
        return {"status": "completed", "actions": actions, "extracted": extracted}

    async def perform(self, page: PlaywrightPage, step: Step) -> list[dict[str, Any]]:
        """Clear what covers the page, find the element, act, and report the actions."""
        done = await clear_dialogs(page)
        if step.action == "press":
            await press_focused(page, key_name(step.value))
            await page.wait_for_load_state("load")
            return [*done, item("keypress", None, step)]
        element = await find(page, step)
        xpath = await element.evaluate(FULL_XPATH_JS)
        seen = await element.evaluate(DESCRIBE_JS)  # before acting: as the agent saw it
        target = page.locator(f"xpath={xpath}")
        if step.action == "fill":
            await target.fill("" if step.value is None else str(step.value))
        elif step.action == "select_option":
            await target.select_option(
                step.value if isinstance(step.value, list) else str(step.value)
            )
        elif step.action in ("click", "hover"):
            await (target.click() if step.action == "click" else target.hover())
            await page.wait_for_load_state("load")
        else:
            raise AgentFailed(f"the stand-in agent cannot {step.action}")
        return [*done, item(ACTION_TYPES[step.action], xpath, step, seen)]


ERRORS = "#error, .errornote, [role=alert]"  # how the portal and Django's admin say "refused"


async def shows_an_error(page: PlaywrightPage) -> bool:
    """The page shows an error message (a rejected login, an invalid form)."""
    shown = page.locator(ERRORS)
    return any([await shown.nth(i).is_visible() for i in range(await shown.count())])


def render_url(url: str, request: BlockRequest) -> str:
    """The block's url with `{{ key }}` of the run's parameters filled in (plain names only)."""
    values = {**request.get("parameters", {}), "current_value": request.get("loop_value")}
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: str(values.get(m.group(1), "")), url)


async def clear_dialogs(page: PlaywrightPage) -> list[dict[str, Any]]:
    """A dialog over the page (a consent banner, a welcome box) is closed first, with its
    first button: a precondition of the action that follows."""
    dialog = page.get_by_role("dialog")
    if not (await dialog.count() and await dialog.first.is_visible()):
        return []
    button = dialog.first.get_by_role("button").first
    xpath = await button.evaluate(FULL_XPATH_JS)
    seen = await button.evaluate(DESCRIBE_JS)
    await button.click()
    await page.wait_for_load_state("load")
    return [item("click", xpath, Step("click", DIALOG_INTENTION), seen)]


def _exactly(name: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(name)}:?\s*$", re.IGNORECASE)


async def find(page: PlaywrightPage, step: Step) -> Locator:
    """The element the step's intention names: by label, placeholder or accessible name;
    for a click, else the submit button of the page's form (a renamed button)."""
    names = _QUOTED.findall(step.intention)
    candidates: list[Locator] = []
    for name in names:
        if step.action in ("fill", "select_option"):
            candidates += [
                page.get_by_label(_exactly(name)),
                page.get_by_placeholder(_exactly(name)),
                page.get_by_role("textbox", name=_exactly(name)),
                page.get_by_role("combobox", name=_exactly(name)),
            ]
        else:
            candidates += [
                page.get_by_role("button", name=_exactly(name)),
                page.get_by_role("link", name=_exactly(name)),
            ]
    if step.action == "click":
        candidates.append(page.locator("form").locator("[type=submit]"))
    for candidate in candidates:
        if await candidate.count() == 1 or (
            await candidate.count() and candidate is candidates[-1]
        ):
            element = candidate.first
            await element.wait_for(state="visible", timeout=FIND_TIMEOUT_MS)
            return element
    raise AgentFailed(f"found nothing for {step.action} {step.intention!r} on {page.url}")


def item(
    action_type: str, xpath: str | None, step: Step, element: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An event's actions item for what the agent did; `element`: what it acted on, as
    worker/runtime/identity.py describes it."""
    found: dict[str, Any] = {
        "action_type": action_type,
        "xpath": xpath,
        "intention": step.intention,
        "text": None,
        "option": None,
        "parameter_key": step.parameter_key,
    }
    if element is not None:
        found["element"] = element
    if action_type in ("input_text", "keypress"):
        found["text"] = None if step.value is None else str(step.value)
    elif action_type == "select_option":
        found["option"] = None if step.value is None else str(step.value)
    return found
