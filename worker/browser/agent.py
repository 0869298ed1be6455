"""The platform's agent as a plug-in of the browser runtime (ARCHITECTURE.md §8).

An agent is any object with two async methods; `page` is the Playwright page:

- `act(page, request) -> list[dict]` does one action whose recorded selector failed and
  returns the actions it performed, in order, in the shape of an event's `actions` items;
  the last replaces the failed action, any before it were preconditions; an empty list
  means nothing had to be done. It raises when it cannot do the action.
- `run_block(page, request) -> dict` runs one whole block (not cached yet, or its cached
  code raised) and returns `{"status": "completed"|"failed", "actions": [...],
  "extracted": <any>}`.

An agent that drives the browser over CDP itself (worker/browser/browser_use_agent.py) says so
with a true `needs_devtools` attribute: its replay's Chromium then listens on a loopback
DevTools port, `worker.browser.chromium.devtools_url()` while the replay runs.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Protocol, TypedDict, runtime_checkable

from playwright.async_api import Page as PlaywrightPage

from worker.domain.errors import PermanentError


class ActRequest(TypedDict):
    label: str | None
    action: str  # the runtime method: click, fill, select_option, upload_file, press, ...
    selector: str | None
    intention: str | None
    value: Any  # to type, select, upload or press; else None
    error: str
    loop_index: int | None
    loop_value: Any
    parameters: dict[str, Any]  # the run's non-credential parameters


class BlockRequest(TypedDict):
    label: str
    block: dict[str, Any]  # the block's definition object
    reason: str
    loop_index: int | None
    loop_value: Any
    parameters: dict[str, Any]
    credentials: dict[str, Any]


class BlockResult(TypedDict, total=False):
    status: str
    actions: list[dict[str, Any]]
    extracted: Any


@runtime_checkable
class Agent(Protocol):
    async def act(self, page: PlaywrightPage, request: ActRequest) -> list[dict[str, Any]]: ...

    async def run_block(self, page: PlaywrightPage, request: BlockRequest) -> BlockResult: ...


class AgentNotFound(PermanentError):
    """--agent MODULE:NAME does not name an importable agent."""


class AgentFailed(Exception):
    """The agent could not do what it was asked; the block (or the run) fails."""


def load_agent(spec: str) -> Agent:
    """`MODULE:NAME`: an object with act and run_block, or a class or function called with no
    arguments to make one."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise AgentNotFound(f"--agent {spec!r}: expected MODULE:NAME")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise AgentNotFound(f"--agent {spec!r}: cannot import {module_name}: {exc}") from None
    for part in attribute.split("."):
        found = getattr(found, part, None)
        if found is None:
            raise AgentNotFound(f"--agent {spec!r}: {module_name} has no {attribute}")
    agent = (
        found()
        if inspect.isclass(found) or (callable(found) and not isinstance(found, Agent))
        else found
    )
    if not isinstance(agent, Agent):
        raise AgentNotFound(
            f"--agent {spec!r}: {type(agent).__name__} has no async act() and run_block()"
        )
    return agent


def agent_actions(actions: Any, *, what: str) -> list[dict[str, Any]]:
    """What an agent returned as actions, checked: a list of objects with an action_type."""
    if not isinstance(actions, list) or not all(
        isinstance(a, dict) and isinstance(a.get("action_type"), str) for a in actions
    ):
        raise AgentFailed(
            f"{what}: the agent returned {type(actions).__name__}, not a list of "
            "actions with an action_type"
        )
    return [{**a, "source": "agent", "status": a.get("status") or "completed"} for a in actions]
