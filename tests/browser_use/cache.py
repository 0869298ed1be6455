"""scriptcache on a SQLite database and a blob store, as `ingest --generate` runs it: record
imported events, generate, read the live revision, replay it in Chromium."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tests.keys import SEAL_KEY
from worker.adapters.sql import scripts as read
from worker.adapters.store import BlobStore
from worker.app.generation import GenerateResult, generate_now
from worker.app.intake import record_only
from worker.browser.agent import Agent
from worker.browser.journal import ReplayResult
from worker.browser.page import ExtractorHook
from worker.browser.replay import Hooks, replay_revision
from worker.domain.definition import Definition
from worker.domain.events import parse_event

CHROMIUM = "/usr/bin/chromium"


@dataclass
class Cache:
    sessions: sessionmaker[Session]
    store: BlobStore

    def record(self, events: Sequence[dict[str, Any]]) -> list[GenerateResult]:
        runs = record_only(self.sessions, [parse_event(e) for e in events], SEAL_KEY)
        return [generate_now(self.sessions, self.store, run_id) for run_id in runs]

    def live(self, wpid: str) -> tuple[dict[str, bytes], Definition]:
        with self.sessions() as session:
            script = read.resolve_script(session, wpid, None)
            revision = read.select_revision(session, script, None)
            _version, definition = read.workflow_definition(session, wpid, None)
        return read.read_files(self.store, revision), definition


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
