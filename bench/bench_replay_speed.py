"""Replay speed (issue 25): the replay of a cached script against the same actions written by
hand in Playwright (bench/handwritten.py), per workflow, in one process.

    .venv/bin/python bench/bench_replay_speed.py                 # 7 runs of each, both workflows
    .venv/bin/python bench/bench_replay_speed.py --runs 11 --only portal

Workflows: the portal (worker/demo/portal on loopback: sign in, 3 orders searched and read, a
refund requested) and the help desk on Django's admin (tests/realapp: sign in, 2 orders
searched, opened and read, a customer's email read, a ticket filed). Each script is learned
once the way scriptcache learns it (the stand-in agent's run, ingest + generate), then:

- **by hand**: bench/handwritten.py, the same actions and selectors, no scriptcache;
- **replay**: `worker.browser.replay.replay_and_emit` of the live revision (the script
  loaded from its files, its run journaled and emitted as events), with the same extractor.

Each once with Chromium warm (one `WarmChromium`, a fresh browser context per run: start
excluded) and once with Chromium started for the run (`open_page` without a warm browser;
Playwright start + launch included). After one warm-up round the four run interleaved
(hand, replay, hand cold, replay cold, ...), so the shared machine's load falls on all of
them. The wait block (`settle`, run live by the platform) is not run on either side. Every
run's effect is checked in the site's own records (the portal's posts, the help desk's
database). Goal: replay ≤ 1.3x the hand-written script. Prints figures; asserts no timing.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, ExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import handwritten
from common import Result, Row, children, machine, tree_cpu
from playwright.async_api import Page, async_playwright

from tests.realapp import fidelity
from tests.realapp.agent import read_form
from tests.realapp.app import DeskApp, seeded_database
from tests.support.portal import Cache as PortalCache
from worker.adapters.sql.engine import make_engine, make_sessionmaker
from worker.adapters.sql.migrate import upgrade
from worker.adapters.store import MemoryStore
from worker.browser.chromium import CHROMIUM_ARGS, WarmChromium, chromium_path, using
from worker.browser.emit import RunInfo
from worker.browser.page import ExtractorHook
from worker.browser.replay import Hooks, replay_and_emit
from worker.demo.portal import workflow as portal_workflow
from worker.demo.portal.closed_loop import agent_run
from worker.demo.portal.site import ACCOUNTS, Site, serve
from worker.domain.definition import Definition

NAME = "11 replay speed"
GOAL = 1.3  # replay wall time ≤ 1.3x the hand-written script
MODES = ("hand", "replay", "hand, Chromium start", "replay, Chromium start")


async def no_live_block(label: str, mode: str) -> None:
    """The platform's block hook: the wait block is not part of either script."""


@dataclass
class Workflow:
    """One workflow, learned: its revision, and both ways of running it once."""

    name: str
    files: dict[str, bytes]
    definition: Definition
    info: RunInfo
    parameters: dict[str, Any]
    credentials: dict[str, Any]
    extractor: ExtractorHook
    by_hand: Callable[[Page], Awaitable[Any]]
    effect: Callable[[], AbstractAsyncContextManager[None]]  # raises when a run's effect is wrong
    exclude: frozenset[int] = frozenset()  # the site's own server process
    times: dict[str, list[float]] = field(default_factory=dict)  # wall s by mode
    cpu: dict[str, list[float]] = field(default_factory=dict)  # CPU s by mode

    async def replay(self, chromium: str) -> None:
        done = await replay_and_emit(
            self.files,
            self.definition,
            self.parameters,
            self.credentials,
            info=self.info,
            chromium_path=chromium,
            hooks=Hooks(extractor=self.extractor, block_hook=no_live_block),
        )
        done.result.raise_for_error()
        if done.result.fallback_count():
            raise AssertionError(f"{self.name}: the replay fell back: {done.result.fallbacks}")


async def by_hand_cold(chromium: str, run: Callable[[Page], Awaitable[Any]]) -> None:
    """The hand-written script as it runs alone: Playwright and Chromium started for it."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            context = await browser.new_context()
            await run(await context.new_page())
            await context.close()
        finally:
            await browser.close()


async def by_hand_warm(warm: WarmChromium, run: Callable[[Page], Awaitable[Any]]) -> None:
    async with warm.page() as page:
        await run(page)


def cpu_s(exclude: frozenset[int]) -> float:
    """CPU used so far by this process, its reaped children and its live descendants (the
    Playwright driver and Chromium), the processes in `exclude` and theirs left out."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    live = [pid for pid in children(os.getpid()) if pid not in exclude]
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime + tree_cpu(live)


async def one_round(warm: WarmChromium, chromium: str, flow: Workflow, keep: bool) -> str:
    steps: dict[str, Callable[[], Awaitable[None]]] = {
        "hand": lambda: by_hand_warm(warm, flow.by_hand),
        "replay": lambda: flow.replay(chromium),
        "hand, Chromium start": lambda: by_hand_cold(chromium, flow.by_hand),
        "replay, Chromium start": lambda: flow.replay(chromium),
    }
    shown = []
    for mode, step in steps.items():
        async with flow.effect():
            if mode.endswith("Chromium start"):
                cpu0, t0 = cpu_s(flow.exclude), time.perf_counter()
                await step()
            else:
                async with using(warm):
                    cpu0, t0 = cpu_s(flow.exclude), time.perf_counter()
                    await step()
            elapsed = time.perf_counter() - t0
            cpu = cpu_s(flow.exclude) - cpu0
        if keep:
            flow.times.setdefault(mode, []).append(elapsed)
            flow.cpu.setdefault(mode, []).append(cpu)
        shown.append(f"{mode} {elapsed:.2f}")
    return ", ".join(shown)


# --- the two workflows, learned -----------------------------------------------------------


@contextmanager
def portal_workflow_learned(chromium: str, tmp: Path) -> Iterator[Workflow]:
    site = Site()
    with serve(site) as base_url:
        user = "alice@shop.test"
        inputs = portal_workflow.Inputs(
            user, ACCOUNTS[user].password, ("A-1001", "A-1002", "A-1003"), "refund"
        )
        engine = make_engine(f"sqlite:///{tmp / 'portal.db'}")
        upgrade(engine)
        cache = PortalCache(make_sessionmaker(engine), MemoryStore())
        run = asyncio.run(agent_run(chromium, base_url, inputs, "wr_bench_speed_agent"))
        (generated,) = cache.record(run.events)
        files, definition = cache.live(portal_workflow.WPID)
        info = RunInfo(portal_workflow.WPID, 1, generated.script_id, generated.version)

        @asynccontextmanager
        async def refund_posted() -> AsyncIterator[None]:
            before = len(site.posts)
            yield
            posts = [(p.path, p.fields) for p in site.posts[before:]]
            want = ("/refunds", {"order": "A-1003", "reason": inputs.refund_reason})
            if posts[-1:] != [want] or [p for p, _ in posts] != ["/login", "/refunds"]:
                raise AssertionError(f"portal: the run posted {posts}")

        yield Workflow(
            "portal",
            files,
            definition,
            info,
            inputs.parameters(),
            inputs.credentials(),
            portal_workflow.read_status_total,
            lambda page: handwritten.portal(
                page,
                base_url,
                inputs.username,
                inputs.password,
                inputs.order_numbers,
                inputs.refund_reason,
            ),
            refund_posted,
        )
        engine.dispose()


@contextmanager
def help_desk_learned(chromium: str, tmp: Path) -> Iterator[Workflow]:
    seeded, users = seeded_database(tmp)
    with DeskApp.start(seeded, users, tmp) as desk:
        engine = make_engine(f"sqlite:///{tmp / 'desk-cache.db'}")
        upgrade(engine)
        cache = fidelity.Cache(make_sessionmaker(engine), MemoryStore())
        inputs = fidelity.as_clerk(desk, "ticket", "SO-1004")
        cache.record(fidelity.record(chromium, desk, "wr_bench_speed_desk", inputs))
        files, definition, info = cache.live()

        @asynccontextmanager
        async def ticket_filed() -> AsyncIterator[None]:
            before = desk.state()
            yield
            after = desk.state()
            tickets = [(t.order, t.subject) for t in after.tickets_since(before)]
            want = [("SO-1004", "Refund request for order SO-1004")]
            if tickets != want or after.orders_changed_since(before):
                raise AssertionError(f"help desk: the run filed {tickets}")

        yield Workflow(
            "help desk (Django admin)",
            files,
            definition,
            info,
            inputs.parameters(),
            inputs.credentials(),
            read_form,
            lambda page: handwritten.help_desk(
                page,
                desk.base_url,
                inputs.username,
                inputs.password,
                inputs.order_numbers,
                inputs.customer,
                inputs.target_order,
            ),
            ticket_filed,
            frozenset({desk.process.pid}) if desk.process is not None else frozenset(),
        )
        engine.dispose()


LEARN = {"portal": portal_workflow_learned, "realapp": help_desk_learned}


async def measure(flows: list[Workflow], chromium: str, runs: int) -> None:
    warm = await WarmChromium(chromium).start()
    try:
        for n in range(runs + 1):  # round 0 is the warm-up
            for flow in flows:
                done = await one_round(warm, chromium, flow, keep=n > 0)
                load = os.getloadavg()[0]
                print(f"round {n or 'warm-up'} {flow.name}: {done} (load {load:.2f})", flush=True)
    finally:
        await warm.close()


def result(flows: list[Workflow]) -> Result:
    rows = []
    for flow in flows:
        for start in ("", ", Chromium start"):
            rows.append(
                Row(
                    NAME,
                    f"{flow.name}: replay wall time{start or ' (Chromium warm)'}",
                    statistics.median(flow.times[f"replay{start}"]),
                    statistics.median(flow.times[f"hand{start}"]),
                    "s",
                    "hand-written Playwright",
                    goal=f"≤ {GOAL}x hand-written",
                    goal_max=GOAL * statistics.median(flow.times[f"hand{start}"]),
                )
            )
    notes = [
        f"{flow.name}, {mode}: wall "
        + ", ".join(f"{t:.3f}" for t in flow.times[mode])
        + " s; CPU "
        + ", ".join(f"{t:.3f}" for t in flow.cpu[mode])
        + " s"
        for flow in flows
        for mode in MODES
    ]
    series = {"replay_speed": {f.name: {"wall": f.times, "cpu": f.cpu} for f in flows}}
    return Result(rows, notes, series)


def overhead_table(flows: list[Workflow]) -> str:
    """Hand-written against replay, per workflow, Chromium's start excluded and included:
    medians of wall time, the median of the two's ratio in each round, and with Chromium warm
    the medians of CPU (this process, the driver and Chromium; a context's renderer may exit
    after its run is timed, so its CPU can fall in the next run's: indicative only)."""
    lines = [
        "| workflow | Chromium start | by hand wall s | replay wall s | replay / by hand "
        "| same round, median | by hand CPU s | replay CPU s | replay / by hand (CPU) "
        "| goal ≤ 1.3x (wall) |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for flow in flows:
        for start, shown in (("", "excluded (warm)"), (", Chromium start", "included")):
            hand = statistics.median(flow.times[f"hand{start}"])
            replay = statistics.median(flow.times[f"replay{start}"])
            cpu = "— | — | —"  # a Chromium that exits with its run leaves no CPU to read
            if not start:
                hand_cpu = statistics.median(flow.cpu["hand"])
                replay_cpu = statistics.median(flow.cpu["replay"])
                cpu = f"{hand_cpu:.3f} | {replay_cpu:.3f} | x{replay_cpu / hand_cpu:.2f}"
            paired = statistics.median(
                r / h
                for r, h in zip(
                    flow.times[f"replay{start}"], flow.times[f"hand{start}"], strict=True
                )
            )
            lines.append(
                f"| {flow.name} | {shown} | {hand:.3f} | **{replay:.3f}** | "
                f"**x{replay / hand:.2f}** | x{paired:.2f} | {cpu} | "
                f"{'yes' if replay <= GOAL * hand else 'NO'} |"
            )
    return "\n".join(lines)


def run(runs: int = 7, only: str = "portal,realapp") -> Result:
    """Learn each workflow's script, time both ways of running it, print the overhead table."""
    chromium = chromium_path(os.environ)
    flows = []
    with tempfile.TemporaryDirectory(prefix="bench-replay-speed-") as tmp_name:
        tmp = Path(tmp_name)
        with ExitStack() as stack:
            for key in only.split(","):
                (tmp / key).mkdir()
                flows.append(stack.enter_context(LEARN[key](chromium, tmp / key)))
            asyncio.run(measure(flows, chromium, runs))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{runs} runs of each after 1 warm-up, interleaved; load average at the end {load}")
    print(overhead_table(flows))
    return result(flows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="measured runs of each, per mode")
    parser.add_argument("--only", default="portal,realapp", help="portal, realapp or both")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(*run(args.runs, args.only).notes, sep="\n")


if __name__ == "__main__":
    main()
