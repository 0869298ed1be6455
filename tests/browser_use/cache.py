"""scriptcache on a SQLite database and a blob store, as `ingest --generate` runs it (the
browser tests' Cache: record imported events, generate, read the live revision), and a replay
of it in Chromium."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tests.support.portal import Cache
from worker.browser.agent import Agent
from worker.browser.journal import ReplayResult
from worker.browser.page import ExtractorHook
from worker.browser.replay import Hooks, replay_revision

CHROMIUM = "/usr/bin/chromium"


@dataclass(frozen=True)
class Replay:
    result: ReplayResult
    wall_s: float  # Chromium's start included


def replay(
    cache: Cache,
    wpid: str,
    parameters: Mapping[str, Any],
    credentials: Mapping[str, Any],
    *,
    extractor: ExtractorHook | None = None,
    agent: Agent | None = None,
    selector_timeout_s: float = 5.0,
) -> Replay:
    """The live revision replayed in a Chromium of its own, on its own event loop."""
    files, definition = cache.live(wpid)
    started = time.monotonic()
    result = asyncio.run(
        replay_revision(
            files,
            definition,
            parameters,
            credentials,
            chromium_path=CHROMIUM,
            hooks=Hooks(extractor=extractor),
            agent=agent,
            selector_timeout_s=selector_timeout_s,
        )
    )
    return Replay(result, time.monotonic() - started)
