"""The help-desk workflow over Django's admin, and agent runs of it recorded in the event format.

The workflow signs in (the password is a credential), loops over a list of order numbers
(search, open, read each), reads a customer's email (an extraction), then either marks an
order refunded or files a ticket about it addressed to the email read before (a conditional
whose two branches change data), then waits (a block that is never cached).

`record_agent_run` is the agent's run: the stand-in agent (agent.py) runs every block
through the application's real pages in Chromium, finding each element the way an agent
does (by its label or accessible name) and recording it the way real agents do: an absolute
positional xpath (what Chromium's "Copy full XPath" gives) and no `parameter_key` for values
that came from workflow parameters (the password alone is recorded with its credential
key). Its events carry an agent's pace: each block's recorded time is the browser's own time
plus one model step (STEP_S) per action and one to finish.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jinja2
from playwright.async_api import Page

from tests.realapp.agent import CONTACT_SCHEMA, ORDER_SCHEMA, DeskAgent
from worker.browser.page import page_state

WPID = "wpid_realapp_helpdesk"
STEP_S = 3.0  # one agent (LLM) step


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
        return {
            "username": self.username,
            "order_numbers": list(self.order_numbers),
            "customer": self.customer,
            "target_order": self.target_order,
            "action": self.action,
        }

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
            {
                "label": "sign_in",
                "block_type": "login",
                "url": f"{base_url}/admin/login/",
                "navigation_goal": "Sign in to the help desk with the given credentials",
            },
            {
                "label": "each_order",
                "block_type": "for_loop",
                "loop_over": "order_numbers",
                "loop_blocks": [
                    {
                        "label": "find_order",
                        "block_type": "navigation",
                        "url": f"{base_url}/admin/shop/order/",
                        "navigation_goal": "Search for order {{ current_value }} and open it",
                    },
                    {
                        "label": "read_order",
                        "block_type": "extraction",
                        "data_extraction_goal": "Read the order's status and total",
                        "data_schema": ORDER_SCHEMA,
                    },
                ],
            },
            {
                "label": "read_contact",
                "block_type": "extraction",
                "url": f"{base_url}/admin/shop/customer/",
                "data_extraction_goal": "Find customer {{ customer }} and read their email",
                "data_schema": CONTACT_SCHEMA,
            },
            {
                "label": "route",
                "block_type": "conditional",
                "branches": [
                    {
                        "condition": "{{ action == 'refund' }}",
                        "blocks": [
                            {
                                "label": "refund_order",
                                "block_type": "task",
                                "url": f"{base_url}/admin/shop/order/",
                                "navigation_goal": "Mark order {{ target_order }} as refunded",
                            }
                        ],
                    },
                    {
                        "condition": None,
                        "blocks": [
                            {
                                "label": "file_ticket",
                                "block_type": "task",
                                "url": f"{base_url}/admin/shop/ticket/add/",
                                "navigation_goal": "File a ticket about order {{ target_order }} "
                                "addressed to {{ read_contact.output.email }}",
                            }
                        ],
                    },
                ],
            },
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


@dataclass
class _Recorder:
    agent: DeskAgent
    page: Page
    run_id: str
    inputs: Inputs
    now: datetime
    events: list[dict[str, Any]] = field(default_factory=list)

    def event(self, kind: str, **fields: Any) -> None:
        self.events.append(
            {
                "type": kind,
                "event_id": f"evt_{self.run_id}_{len(self.events)}",
                "occurred_at": self.now.isoformat(),
                "workflow_run_id": self.run_id,
                **fields,
            }
        )

    def completed(
        self,
        label: str,
        block_type: str,
        block_id: str,
        *,
        seconds: float,
        parent: str | None = None,
        loop: tuple[int, Any] | None = None,
        task: dict[str, Any] | None = None,
        actions: list[dict[str, Any]] = (),
        **extra: Any,
    ) -> None:
        self.now += timedelta(seconds=seconds)
        self.event(
            "block_completed",
            workflow_run_block_id=block_id,
            parent_workflow_run_block_id=parent,
            label=label,
            block_type=block_type,
            status="completed",
            executed_with="agent",
            loop_index=None if loop is None else loop[0],
            loop_value=None if loop is None else loop[1],
            task=task,
            actions=list(actions),
            **extra,
        )

    async def block(
        self,
        block: dict[str, Any],
        *,
        parent: str | None = None,
        loop: tuple[int, Any] | None = None,
    ) -> None:
        """One block run by the agent (`run_block`), as its event."""
        label = block["label"]
        block_id = f"wrb_{self.run_id}_{len(self.events)}"
        started, start_url = time.monotonic(), self.page.url
        result = await self.agent.run_block(
            self.page,
            {
                "label": label,
                "block": block,
                "reason": "not cached",
                "loop_index": None if loop is None else loop[0],
                "loop_value": None if loop is None else loop[1],
                "parameters": self.inputs.parameters(),
                "credentials": self.inputs.credentials(),
            },
        )
        if result["status"] != "completed":
            raise AssertionError(f"the agent could not run {label!r}: {result}")
        actions = [
            {"action_id": f"act_{block_id}_{i}", "reasoning": None, "status": "completed", **a}
            for i, a in enumerate(result["actions"])
        ]
        task = {
            "task_id": f"tsk_{block_id}",
            "url": self.page.url,
            "navigation_goal": self.render(block.get("navigation_goal"), loop),
            "data_extraction_goal": self.render(block.get("data_extraction_goal"), loop),
            "extracted_information_schema": block.get("data_schema"),
        }
        extra = {} if result.get("extracted") is None else {"output": result["extracted"]}
        extra["page"] = await page_state(self.page, result.get("extracted"), start_url)
        self.completed(
            label,
            block["block_type"],
            block_id,
            parent=parent,
            loop=loop,
            task=task,
            actions=actions,
            seconds=time.monotonic() - started + STEP_S * (len(actions) + 1),
            **extra,
        )

    def render(self, template: str | None, loop: tuple[int, Any] | None) -> str | None:
        """A goal as the platform hands it to its agent: the run's values filled in."""
        if template is None:
            return None
        values = {
            **self.inputs.parameters(),
            "current_value": None if loop is None else loop[1],
            **{label: {"output": out} for label, out in self.agent.memory.items()},
        }
        return (
            jinja2.Environment(undefined=jinja2.ChainableUndefined)
            .from_string(template)
            .render(values)
        )


async def record_agent_run(
    page: Page, run_id: str, base_url: str, inputs: Inputs, *, agent: DeskAgent | None = None
) -> list[dict[str, Any]]:
    """The agent's run of the workflow on the live application, as the events its platform
    publishes. Every block runs with the agent; the application's data changes as it says."""
    definition_ = definition(base_url)
    blocks = blocks_by_label(definition_)
    rec = _Recorder(
        agent or DeskAgent(), page, run_id, inputs, datetime.now(UTC).replace(microsecond=0)
    )
    rec.event(
        "run_started",
        workflow_permanent_id=WPID,
        workflow_version=1,
        definition=definition_,
        parameters={**inputs.parameters(), **inputs.credentials()},
        run_with="agent",
        code_gen=False,
    )
    await rec.block(blocks["sign_in"])
    loop_id = f"wrb_{run_id}_each_order"
    for index, number in enumerate(inputs.order_numbers):
        await rec.block(blocks["find_order"], parent=loop_id, loop=(index, number))
        await rec.block(blocks["read_order"], parent=loop_id, loop=(index, number))
    rec.completed("each_order", "for_loop", loop_id, seconds=STEP_S)
    await rec.block(blocks["read_contact"])
    rec.completed("route", "conditional", f"wrb_{run_id}_route", seconds=STEP_S)
    await rec.block(blocks["refund_order" if inputs.action == "refund" else "file_ticket"])
    settle = blocks["settle"]["seconds"]
    await asyncio.sleep(settle)  # the platform runs the wait block
    rec.completed("settle", "wait", f"wrb_{run_id}_settle", seconds=settle)
    rec.now += timedelta(seconds=1)
    rec.event("run_finished", status="completed")
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
