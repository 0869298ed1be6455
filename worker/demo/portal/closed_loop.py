"""The closed loop on the portal: the stand-in agent's plans for the portal workflow
(workflow.py), an agent run, and a replay with the agent plug-in, each giving the run's
events in the producer contract. Shared by tests, bench/ and
`scriptcache demo` (worker/demo/loop.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from worker.browser.agent import BlockRequest
from worker.browser.agent_run import run_with_agent
from worker.browser.chromium import open_page
from worker.browser.emit import RunInfo, emit_events
from worker.browser.journal import ReplayResult
from worker.browser.replay import Hooks, replay_revision
from worker.demo.portal import workflow as portal
from worker.demo.portal.workflow import Inputs, read_status_total
from worker.demo.standin import Plan, StandInAgent, Step
from worker.domain.definition import Definition

SELECTOR_TIMEOUT_S = 1.0
OPTIONAL_TIMEOUT_S = 0.5


def _sign_in(request: BlockRequest, memory: Mapping[str, Any]) -> list[Step]:
    return [
        Step(
            "fill",
            "Type the username into 'Username'",
            request["parameters"]["username"],
            "username",
        ),
        Step(
            "fill",
            "Type the password into 'Password'",
            request["credentials"]["password"],
            "password",
        ),
        Step("click", "Click 'Sign in'"),
        Step("complete", "Signed in"),
    ]


def _open_order(request: BlockRequest, memory: Mapping[str, Any]) -> list[Step]:
    return [
        Step("fill", "Type the order number into 'Order number'", request["loop_value"]),
        Step("press", "Press Enter to open the order", "Enter"),
        Step("complete", "Order open"),
    ]


def _read_order(request: BlockRequest, memory: Mapping[str, Any]) -> list[Step]:
    return [Step("extract", "Read the status and total")]


def _request_refund(request: BlockRequest, memory: Mapping[str, Any]) -> list[Step]:
    return [
        Step(
            "select_option",
            "Choose the reason in 'Reason'",
            request["parameters"]["refund_reason"],
            "refund_reason",
        ),
        Step("click", "Click 'Request refund'"),
        Step("complete", "Refund requested"),
    ]


def _contact_support(request: BlockRequest, memory: Mapping[str, Any]) -> list[Step]:
    return [
        Step("fill", "Describe the problem in 'Message'", portal.SUPPORT_TEXT),
        Step("click", "Click 'Send'"),
        Step("complete", "Ticket sent"),
    ]


PLANS: dict[str, Plan] = {
    "sign_in": _sign_in,
    "open_order": _open_order,
    "read_order": _read_order,
    "request_refund": _request_refund,
    "contact_support": _contact_support,
}


def standin() -> StandInAgent:
    return StandInAgent(PLANS, extractor=read_status_total)


@dataclass
class Run:
    """One run on the portal: what it did, its events, what it asked of the agent."""

    result: ReplayResult
    events: list[dict[str, Any]]
    agent: StandInAgent
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def fallbacks(self) -> list[tuple[str, int | None, str]]:
        """The blocks whose cached code needed the agent (fallback element or block)."""
        return [
            (e["label"], e["loop_index"], e["fallback"])
            for e in self.events
            if e["type"] == "block_completed" and e.get("fallback", "none") in ("element", "block")
        ]

    @property
    def relocated(self) -> list[tuple[str, int | None]]:
        """The blocks that ran from code without the agent while their elements had moved
        (fallback relocated: the run's events still repair them)."""
        return [
            (e["label"], e["loop_index"])
            for e in self.events
            if e["type"] == "block_completed" and e.get("fallback") == "relocated"
        ]


async def agent_run(
    chromium: str,
    base_url: str,
    inputs: Inputs,
    run_id: str,
    *,
    wpid: str = portal.WPID,
    workflow_version: int = 1,
) -> Run:
    """The agent runs the whole workflow (nothing cached): the recording that is learned."""
    definition = Definition.model_validate(portal.definition(base_url))
    agent = standin()
    async with open_page(chromium) as page:
        result = await run_with_agent(
            page,
            definition,
            inputs.parameters(),
            inputs.credentials(),
            agent,
            extractor=read_status_total,
        )
    result.raise_for_error()
    info = RunInfo(
        wpid,
        workflow_version,
        None,
        None,
        inputs.parameters(),
        inputs.credentials(),
        run_id,
        run_with="agent",
    )
    return Run(result, emit_events(result, definition, info), agent, list(agent.calls))


async def replay_with_agent(
    chromium: str,
    files: Mapping[str, bytes],
    definition: Definition,
    inputs: Inputs,
    *,
    script_id: int,
    version: int,
    run_id: str,
    wpid: str = portal.WPID,
    workflow_version: int = 1,
    relocate: bool = True,
) -> Run:
    """Run a revision from code with the stand-in agent plugged in, as a platform does."""
    agent = standin()
    result = await replay_revision(
        files,
        definition,
        inputs.parameters(),
        inputs.credentials(),
        chromium_path=chromium,
        agent=agent,
        selector_timeout_s=SELECTOR_TIMEOUT_S,
        optional_timeout_s=OPTIONAL_TIMEOUT_S,
        relocate=relocate,
        hooks=Hooks(extractor=read_status_total),
    )
    result.raise_for_error()
    info = RunInfo(
        wpid,
        workflow_version,
        script_id,
        version,
        inputs.parameters(),
        inputs.credentials(),
        run_id,
    )
    return Run(result, emit_events(result, definition, info), agent, list(agent.calls))
