"""browser-use's own Agent, run in headless Debian Chromium with the scripted model: no
network but loopback, no telemetry, no cloud. Importing this module imports browser_use."""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Before browser_use reads its configuration: no telemetry, no cloud, quiet logs.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "false")
os.environ.setdefault("BROWSER_USE_CLOUD_SYNC", "false")
os.environ.setdefault("BROWSER_USE_LOGGING_LEVEL", "warning")
os.environ.setdefault("BROWSER_USE_DISABLE_EXTENSIONS", "true")
os.environ.setdefault("BROWSER_USE_CLOUD_HINTS", "false")

from browser_use import Agent, BrowserProfile, BrowserSession

from tests.browser_use.model import ScriptedChatModel

CHROMIUM = os.environ.get("SCRIPTCACHE_CHROMIUM_PATH", "/usr/bin/chromium")
QUIET_AGENT = {
    "use_vision": False,
    "use_judge": False,
    "enable_planning": False,
    "directly_open_url": False,
    "calculate_cost": False,
    "message_compaction": False,
    "enable_signal_handler": False,
    "max_failures": 1,
    "final_response_after_failure": False,
}


@dataclass(frozen=True)
class AgentRun:
    history: dict[str, Any]  # AgentHistoryList.model_dump(sensitive_data=...): the saved file
    wall_s: float  # the browser's start included
    steps: int


def profile(user_data_dir: str) -> BrowserProfile:
    return BrowserProfile(
        executable_path=CHROMIUM,
        headless=True,
        chromium_sandbox=False,
        user_data_dir=user_data_dir,
        enable_default_extensions=False,
        keep_alive=False,
    )


async def run_agent(
    task: str,
    model: ScriptedChatModel,
    sensitive_data: Mapping[str, str] | None = None,
    max_steps: int = 20,
    on_step_end: Callable[[Agent], Awaitable[None]] | None = None,
) -> AgentRun:
    """browser-use's Agent on `task`; its history as browser-use saves it (secret values
    replaced by their placeholders, as `save_to_file(sensitive_data=...)` does)."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="scriptcache-bu-") as tmp:
        session = BrowserSession(browser_profile=profile(tmp))
        agent = Agent(
            task=task,
            llm=model,
            browser_session=session,
            sensitive_data=dict(sensitive_data) if sensitive_data else None,
            file_system_path=tmp,
            **QUIET_AGENT,
        )
        try:
            history = await agent.run(max_steps=max_steps, on_step_end=on_step_end)
        finally:
            await session.kill()
    dumped = history.model_dump(sensitive_data=dict(sensitive_data) if sensitive_data else None)
    return AgentRun(dumped, time.monotonic() - started, len(history.history))
