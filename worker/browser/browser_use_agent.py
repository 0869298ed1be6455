"""The agent plug-in (worker/browser/agent.py) backed by a browser-use Agent, for platforms
built on browser-use: the fallback path runs their own model.

browser-use drives Chromium over CDP itself, so the plug-in says `needs_devtools`: the
replay's Chromium listens on a loopback DevTools port, and a browser-use `BrowserSession`
attaches to that browser and to the replay's page (its CDP target), kept alive when the Agent
ends. What the Agent did comes back through the same mapping as an imported history
(worker/producers/browser_use.py), so the runtime records it like any agent's actions.

- `run_block`: the block's goal (its `{{ key }}` filled with the run's parameters, its
  credentials as `<secret>key</secret>`, which browser-use types from `sensitive_data`
  without showing the model the value) is the Agent's task, on the block's url.
- `act`: one action, described by the runtime's method, intention and element, on the page
  as it is; the value to type is always handed over as `<secret>value</secret>`.

browser_use (the `browser-use` extra) is imported when the plug-in runs, never at import.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from playwright.async_api import Page as PlaywrightPage

from worker.browser.agent import ActRequest, AgentFailed, BlockRequest, BlockResult
from worker.browser.chromium import devtools_url
from worker.producers.browser_use import TaskRun, import_runs

QUIET = {  # what a fallback needs of browser-use's Agent, and nothing it would send anywhere
    "use_vision": False,
    "use_judge": False,
    "enable_planning": False,
    "directly_open_url": False,
    "calculate_cost": False,
    "enable_signal_handler": False,
}
VALUE_KEY = "value"  # act()'s value, as browser-use's sensitive_data
_TEMPLATE = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass
class BrowserUseAgent:
    """`act` and `run_block` by a browser-use Agent with `llm` (any browser-use
    BaseChatModel). `agent_options` are passed to browser-use's Agent as they are."""

    llm: Any
    max_steps: int = 25
    act_max_steps: int = 4
    agent_options: Mapping[str, Any] = field(default_factory=dict)
    calls: list[tuple[str, str | None]] = field(default_factory=list)
    histories: list[dict[str, Any]] = field(default_factory=list)  # every run's, as saved

    needs_devtools: ClassVar[bool] = True

    async def run_block(self, page: PlaywrightPage, request: BlockRequest) -> BlockResult:
        label = request["label"]
        self.calls.append(("run_block", label))
        block = request.get("block") or {}
        values = {**request.get("parameters", {}), "current_value": request.get("loop_value")}
        secrets = {str(k): str(v) for k, v in (request.get("credentials") or {}).items()}
        goal = block.get("navigation_goal") or block.get("prompt") or block.get("title") or label
        task = render(str(goal), values, secrets)
        url = block.get("url")
        if url:
            await page.goto(render(str(url), values, {}), wait_until="load")
        history = await self._run(page, task, secrets, self.max_steps)
        done = import_runs(
            [TaskRun(history, task, label)],
            workflow_permanent_id="browser-use-fallback",
            parameters={k: v for k, v in request.get("parameters", {}).items() if k not in secrets},
            sensitive_data=secrets,
        )
        event = done.events[1]
        return {
            "status": event["status"],
            "actions": [_plain(a) for a in event["actions"]],
            "extracted": event.get("output"),
        }

    async def act(self, page: PlaywrightPage, request: ActRequest) -> list[dict[str, Any]]:
        self.calls.append(("act", request.get("label")))
        value = request.get("value")
        secrets = {VALUE_KEY: str(value)} if value is not None else {}
        task = (
            f"On the page as it is, do one thing, then finish: {request['action']}"
            f" ({request.get('intention') or 'no intention recorded'})"
            + (f" with the value <secret>{VALUE_KEY}</secret>" if secrets else "")
            + f". The recorded selector {request.get('selector')!r} no longer works."
        )
        history = await self._run(page, task, secrets, self.act_max_steps)
        done = import_runs(
            [TaskRun(history, task, request.get("label") or "act")],
            workflow_permanent_id="browser-use-fallback",
            sensitive_data=secrets,
        )
        event = done.events[1]
        if event["status"] != "completed":
            raise AgentFailed(f"browser-use could not {request['action']} on {page.url}")
        acted = [_plain(a) for a in event["actions"] if a["action_type"] != "complete"]
        for action in acted:
            if action.get("parameter_key") == VALUE_KEY:  # the runtime names the real key
                action["parameter_key"] = None
        return acted

    async def _run(
        self, page: PlaywrightPage, task: str, secrets: Mapping[str, str], max_steps: int
    ) -> dict[str, Any]:
        """browser-use's Agent on `task`, on the replay's own page; its history as saved."""
        from browser_use import Agent, BrowserSession

        address = devtools_url()
        if address is None:
            raise AgentFailed("the replay's Chromium has no DevTools port (needs_devtools)")
        target = await page.context.new_cdp_session(page)
        info = await target.send("Target.getTargetInfo")
        await target.detach()
        session = BrowserSession(cdp_url=address, keep_alive=True)
        try:
            await session.start()
            await session.get_or_create_cdp_session(info["targetInfo"]["targetId"], focus=True)
            agent = Agent(
                task=task,
                llm=self.llm,
                browser_session=session,
                sensitive_data=dict(secrets) or None,
                **{**QUIET, **self.agent_options},
            )
            history = await agent.run(max_steps=max_steps)
        finally:
            await session.stop()
        saved: dict[str, Any] = history.model_dump(sensitive_data=dict(secrets) or None)
        self.histories.append(saved)
        await page.wait_for_load_state("load")
        return saved


def render(text: str, values: Mapping[str, Any], secrets: Mapping[str, str]) -> str:
    """`{{ key }}` of a parameter as its value, of a credential as `<secret>key</secret>`
    (plain names only; anything else is left as written)."""

    def one(match: re.Match[str]) -> str:
        key = match.group(1)
        if key in secrets:
            return f"<secret>{key}</secret>"
        value = values.get(key)
        return match.group(0) if value is None else str(value)

    return _TEMPLATE.sub(one, text)


def _plain(action: dict[str, Any]) -> dict[str, Any]:
    """An event's action as the runtime takes an agent's: no id (it numbers them)."""
    return {k: v for k, v in action.items() if k != "action_id"}
