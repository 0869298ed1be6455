"""The closed loop on the real application, as the tests and `make bench` drive it.

record: the stand-in agent runs the help-desk workflow in Chromium (workflows.py);
cache:  its events go through scriptcache's ingest + generate (what `ingest --generate` does)
        on a SQLite database and a blob store;
replay: the live revision's main.py runs in a fresh Chromium with the browser runtime
        (`worker.browser.replay.replay_revision`), optionally with the agent plug-in; its
        run is emitted as producer events (`worker.browser.emit`) and goes back through the
        same ingest + generate, which repairs the blocks that fell back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tests.keys import SEAL_KEY
from tests.realapp import workflows as wf
from tests.realapp.agent import DeskAgent, read_form
from tests.realapp.app import DeskApp, State
from tests.realapp.workflows import Inputs
from tests.support.browser import run_async
from worker.adapters.sql import scripts as read
from worker.adapters.store import BlobStore
from worker.app.generation import GenerateResult, generate_now
from worker.app.intake import record_only
from worker.browser.chromium import open_page
from worker.browser.emit import RunInfo, emit_events
from worker.browser.journal import ReplayResult
from worker.browser.replay import Hooks, replay_revision
from worker.domain.definition import Definition
from worker.domain.events import parse_event

SELECTOR_TIMEOUT_S = 5.0  # how long a recorded selector may take before the agent is asked
REVIEWED = ("SO-1001", "SO-1004")


def as_clerk(desk: DeskApp, action: str, target: str) -> Inputs:
    """The recorded runs' parameters: the clerk reviews two orders of Grace Hopper's."""
    return Inputs("clerk", desk.users.clerk_password, REVIEWED, "Grace Hopper", target, action)


TICKET_FORM = "/admin/shop/ticket/add/"


def landing(desk: DeskApp, since: int, wait_s: float = 2.0) -> str | None:
    """The page the browser was sent to after its last post of the ticket form, among the
    requests served after the first `since` (`len(desk.requests())` before a run): the list
    after "Save", an empty form after "Save and add another"."""
    deadline = time.monotonic() + wait_s
    while True:
        served = desk.requests()[since:]
        posts = [
            i
            for i, (method, path, _) in enumerate(served)
            if method == "POST" and path == TICKET_FORM
        ]
        after = (
            [
                path
                for method, path, _ in served[posts[-1] + 1 :]
                if method == "GET" and not path.startswith("/static/")
            ]
            if posts
            else []
        )
        if after or time.monotonic() > deadline:  # the log line may trail the page a little
            return after[0] if after else None
        time.sleep(0.1)


def changes(before: State, after: State) -> tuple[object, ...]:
    """What a run changed in the application: orders, tickets, and who did what."""
    return (
        after.orders_changed_since(before),
        after.tickets_since(before),
        [(e.username, e.model, e.object_repr, e.action) for e in after.log_since(before)],
    )


@dataclass
class Cache:
    """scriptcache on a database and a blob store: record runs, read the live revision."""

    sessions: sessionmaker[Session]
    store: BlobStore

    def record(self, events: Sequence[dict[str, Any]]) -> list[GenerateResult]:
        runs = record_only(self.sessions, [parse_event(e) for e in events], SEAL_KEY)
        return [generate_now(self.sessions, self.store, run_id) for run_id in runs]

    def live(self) -> tuple[dict[str, bytes], Definition, RunInfo]:
        with self.sessions() as session:
            script = read.resolve_script(session, wf.WPID, None)
            revision = read.select_revision(session, script, None)
            version, definition = read.workflow_definition(session, wf.WPID, None)
        info = RunInfo(wf.WPID, version, revision.script_id, revision.version)
        return read.read_files(self.store, revision), definition, info


@dataclass(frozen=True)
class Replay:
    result: ReplayResult
    wall_s: float  # browser start included
    events: list[dict[str, Any]]  # the replayed run, as its platform would publish it
    agent: DeskAgent | None

    @property
    def agent_calls(self) -> int:
        return 0 if self.agent is None else len(self.agent.calls)

    @property
    def fallbacks(self) -> int:
        """Blocks whose cached code needed the agent (element or block level)."""
        return self.result.fallback_count()

    def outcomes(self) -> list[tuple[str, int | None, str]]:
        return [(b.label, b.loop_index, b.outcome) for b in self.result.blocks]


@dataclass(frozen=True)
class LiveBlocks:
    """The platform's block hook: it runs the blocks that are never cached, as it did in the
    agent run (the workflow's `wait`), so a replay takes the time they take."""

    definition: Definition

    async def __call__(self, label: str, mode: str) -> None:
        block = self.definition.block(label)
        seconds = None if block is None else (block.model_extra or {}).get("seconds")
        if mode != "live" or block is None or block.block_type != "wait" or seconds is None:
            raise AssertionError(f"the platform cannot run {label!r} ({mode})")
        await asyncio.sleep(float(seconds))


async def _record(
    chromium: str, desk: DeskApp, run_id: str, inputs: Inputs
) -> list[dict[str, Any]]:
    async with open_page(chromium) as page:
        return await wf.record_agent_run(page, run_id, desk.base_url, inputs)


def record(chromium: str, desk: DeskApp, run_id: str, inputs: Inputs) -> list[dict[str, Any]]:
    """An agent run of the workflow on the live application (its data changes)."""
    return run_async(_record(chromium, desk, run_id, inputs))


def replay(
    chromium: str, cache: Cache, inputs: Inputs, run_id: str, *, agent: DeskAgent | None = None
) -> Replay:
    """Replay the live revision with `inputs`; with `agent`, the agent plug-in takes what the
    script cannot do. Returns the replay and its emitted events."""
    files, definition, info = cache.live()
    started = time.monotonic()
    result = run_async(
        replay_revision(
            files,
            definition,
            inputs.parameters(),
            inputs.credentials(),
            chromium_path=chromium,
            hooks=Hooks(extractor=read_form, block_hook=LiveBlocks(definition)),
            agent=agent,
            selector_timeout_s=SELECTOR_TIMEOUT_S,
        )
    )
    wall_s = time.monotonic() - started
    run = RunInfo(
        info.workflow_permanent_id,
        info.workflow_version,
        info.script_id,
        info.version,
        inputs.parameters(),
        inputs.credentials(),
        run_id,
    )
    return Replay(result, wall_s, emit_events(result, definition, run), agent)
