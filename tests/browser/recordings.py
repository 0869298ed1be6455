"""Recorded agent runs on the test portal (worker/demo/portal/site.py), in the event format.

`agent_run` gives the events an agent platform would publish for one run of the portal
workflow (worker/demo/portal/workflow.py: sign in, a loop over orders, refund or support, a live
wait block).
Times follow an agent's pace: one model step of STEP_S per action, plus one to finish.

`act_out` plays a recording's actions verbatim on the site with Playwright, as the agent
did: the server-side effects of the recorded run, for comparison with a replay.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.async_api import Page

from worker.demo.portal.workflow import (
    EXTRACTION_GOAL,
    SCHEMA,
    SUPPORT_TEXT,
    WPID,
    Inputs,
    definition,
)

T0 = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)
STEP_S = 3  # one agent (LLM) step

DISMISS_BANNER = "//button[@aria-label='Dismiss cookie banner']"
USERNAME = "//input[@name='username']"
PASSWORD = "//input[@name='password']"
SIGN_IN = "//button[normalize-space()='Sign in']"
ORDER_SEARCH = "//input[@placeholder='Order number']"
REFUND_REASON = "//select[@id='reason']"
SUBMIT_REFUND = "//button[@id='submit-refund']"
SUPPORT_MESSAGE = "//textarea[@name='message']"
SEND = "//button[text()='Send']"


def action(kind: str, xpath: str | None, intention: str, **fields: Any) -> dict[str, Any]:
    return {"action_type": kind, "xpath": xpath, "intention": intention, **fields}


@dataclass
class _Run:
    run_id: str
    base_url: str
    cached: frozenset[str]
    now: datetime
    events: list[dict[str, Any]] = field(default_factory=list)

    def event(self, kind: str, gap_s: float, **fields: Any) -> None:
        self.now += timedelta(seconds=gap_s)
        self.events.append(
            {
                "type": kind,
                "event_id": f"evt_{self.run_id}_{len(self.events)}",
                "occurred_at": self.now.isoformat(),
                "workflow_run_id": self.run_id,
                **fields,
            }
        )

    def block(
        self,
        label: str,
        block_type: str,
        actions: Sequence[dict[str, Any]] = (),
        *,
        parent: str | None = None,
        loop: tuple[int, str] | None = None,
        task_url: str | None = None,
        extraction: bool = False,
        gap_s: float | None = None,
    ) -> str:
        block_id = f"wrb_{self.run_id}_{len(self.events)}"
        acts = [
            {
                "action_id": f"act_{block_id}_{i}",
                "reasoning": None,
                "text": None,
                "option": None,
                "parameter_key": None,
                "status": "completed",
                **a,
            }
            for i, a in enumerate(actions)
        ]
        task = (
            None
            if task_url is None
            else {
                "task_id": f"tsk_{block_id}",
                "url": task_url,
                "navigation_goal": None,
                "data_extraction_goal": EXTRACTION_GOAL if extraction else None,
                "extracted_information_schema": SCHEMA if extraction else None,
            }
        )
        self.event(
            "block_completed",
            STEP_S * (len(acts) + 1) if gap_s is None else gap_s,
            workflow_run_block_id=block_id,
            parent_workflow_run_block_id=parent,
            label=label,
            block_type=block_type,
            status="completed",
            executed_with="code" if label in self.cached else "agent",
            loop_index=None if loop is None else loop[0],
            loop_value=None if loop is None else loop[1],
            task=task,
            actions=acts,
        )
        return block_id


def agent_run(
    run_id: str, base_url: str, inputs: Inputs, *, cached: Iterable[str] = (), start: datetime = T0
) -> list[dict[str, Any]]:
    """The events of one run; labels in `cached` ran from code (`executed_with = code`)."""
    run = _Run(run_id, base_url, frozenset(cached), start)
    run.event(
        "run_started",
        0,
        workflow_permanent_id=WPID,
        workflow_version=1,
        definition=definition(base_url),
        parameters={**inputs.parameters(), **inputs.credentials()},
        run_with="agent",
        code_gen=False,
    )
    run.block(
        "sign_in",
        "login",
        [
            action("click", DISMISS_BANNER, "Close the cookie banner"),
            action(
                "input_text",
                USERNAME,
                "Type the username",
                text=inputs.username,
                parameter_key="username",
            ),
            action(
                "input_text",
                PASSWORD,
                "Type the password",
                text=inputs.password,
                parameter_key="password",
            ),
            action("click", SIGN_IN, "Submit the sign-in form"),
            action("complete", None, "Signed in"),
        ],
        task_url=f"{base_url}/login",
    )
    loop_id = f"wrb_{run_id}_loop"
    for index, number in enumerate(inputs.order_numbers):
        run.block(
            "open_order",
            "navigation",
            [
                action("input_text", ORDER_SEARCH, "Type the order number", text=number),
                action("keypress", None, "Press Enter to open the order", text="Enter"),
            ],
            parent=loop_id,
            loop=(index, number),
            task_url=f"{base_url}/orders",
        )
        run.block(
            "read_order",
            "extraction",
            [action("extract", None, "Read status and total")],
            parent=loop_id,
            loop=(index, number),
            task_url=f"{base_url}/orders/{number}",
            extraction=True,
        )
    run.event(
        "block_completed",
        1,
        workflow_run_block_id=loop_id,
        parent_workflow_run_block_id=None,
        label="each_order",
        block_type="for_loop",
        status="completed",
        executed_with="code" if "each_order" in run.cached else "agent",
        loop_index=None,
        loop_value=None,
        task=None,
        actions=[],
    )
    run.block("route", "conditional", gap_s=STEP_S)
    if inputs.action == "refund":
        run.block(
            "request_refund",
            "task",
            [
                action(
                    "select_option",
                    REFUND_REASON,
                    "Choose the refund reason",
                    option=inputs.refund_reason,
                    parameter_key="refund_reason",
                ),
                action("click", SUBMIT_REFUND, "Submit the refund request"),
            ],
            task_url=f"{base_url}/refunds/new",
        )
    else:
        run.block(
            "contact_support",
            "task",
            [
                action("input_text", SUPPORT_MESSAGE, "Describe the problem", text=SUPPORT_TEXT),
                action("click", SEND, "Send the ticket"),
            ],
            task_url=f"{base_url}/support",
        )
    run.block("settle", "wait", gap_s=1)
    run.event("run_finished", 1, status="completed")
    return run.events


def recorded_block_seconds(events: Iterable[dict[str, Any]]) -> float:
    """The recorded time of the run's blocks: each block_completed's gap to the event before."""
    total, previous = 0.0, None
    for event in sorted(events, key=lambda e: e["occurred_at"]):
        at = datetime.fromisoformat(event["occurred_at"])
        if event["type"] == "block_completed" and previous is not None:
            total += (at - previous).total_seconds()
        previous = at
    return total


async def act_out(page: Page, events: Sequence[dict[str, Any]]) -> None:
    """Do what the recording says the agent did, action by action, on the live site."""
    start = next(e for e in events if e["type"] == "run_started")
    urls = {b["label"]: b.get("url") for b in _walk(start["definition"]["blocks"])}
    for event in events:
        if event["type"] != "block_completed" or event["task"] is None:
            continue
        if urls.get(event["label"]):
            await page.goto(urls[event["label"]])
        for act in event["actions"]:
            await _do(page, act)


async def _do(page: Page, act: dict[str, Any]) -> None:
    kind, xpath = act["action_type"], act["xpath"]
    target = page.locator(f"xpath={xpath}") if xpath else None
    if kind == "click" and target is not None:
        await target.click()
    elif kind == "input_text" and target is not None:
        await target.fill(act["text"])
    elif kind == "select_option" and target is not None:
        await target.select_option(act["option"])
    elif kind == "keypress":  # on the focused element: its press waits for a navigation
        await page.locator(":focus").press(act["text"])
    elif kind not in ("extract", "complete"):
        raise ValueError(f"act_out cannot do {kind!r}")
    await page.wait_for_load_state("load")


def _walk(blocks: list[dict[str, Any]]) -> Iterable[dict[str, Any]]:
    for block in blocks:
        yield block
        yield from _walk(block.get("loop_blocks", []))
        for branch in block.get("branches", []):
            yield from _walk(branch.get("blocks", []))
