"""`scriptcache demo`, second part: the closed loop (ARCHITECTURE.md §8) in headless Chromium.

The portal workflow (worker/demo/portal) on a site served on loopback, with the deterministic
stand-in agent (no model): the agent's run is learned, a replay runs from code, the site is
redesigned twice: a replay finds the moved elements again without the agent, then, after
the buttons were renamed, finds them again by what else the recording says of them (id,
form, landmark: worker/runtime/matcher.py); each time its emitted events repair the cache
and the next replay runs from code again. The runs' events go where the sample's went: in-process
(`--local`) or to the broker and the worker. Without Playwright or Chromium it says so and
does nothing.

Each demo is a new version of the workflow (the site's port changes from one demo to the
next, and with it the definition's urls), so a demo repeated on the same database learns
again instead of replaying code that points at a site long gone.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import func, select

from config.settings import Settings
from worker.adapters.publisher import producer_app, publish_events
from worker.adapters.sql import models as m
from worker.adapters.sql import scripts as read
from worker.app.bootstrap import Services
from worker.app.generation import generate_now
from worker.app.intake import record_only
from worker.domain.events import parse_event
from worker.secrets.seals import SealKey

if TYPE_CHECKING:
    from worker.demo.portal.closed_loop import Run
    from worker.demo.portal.site import Site
    from worker.demo.portal.workflow import Inputs

WPID = "wpid_demo_portal"
# The site's redesigns, in turn: the first moves every element, the second renames buttons;
# the matcher finds them again each time, without the agent.
REDESIGNS = (
    ("v2", "a banner on top, each page's content in a wrapper"),
    ("v3", "other button texts, each button in its own wrapper"),
)
INDENT = " " * 5
# Takes events, records them and generates; returns the generation's reason when it is known.
Record = Callable[[list[dict[str, Any]]], str | None]


def missing_browser(settings: Settings) -> str | None:
    """Why the closed loop cannot run here, or None."""
    try:  # the optional `browser` extra; worker.browser imports it
        from worker.browser.chromium import ChromiumMissing, check_chromium
    except ImportError:
        return "it needs Playwright: pip install 'scriptcache[browser]'"
    try:
        check_chromium(settings.chromium_path)
    except ChromiumMissing as exc:
        return str(exc)
    return None


def in_process(services: Services, settings: Settings) -> Record:
    def record(events: list[dict[str, Any]]) -> str | None:
        (run_id,) = record_only(
            services.sessions,
            [parse_event(e) for e in events],
            SealKey(services.settings.seal_keys),
        )
        return generate_now(
            services.sessions,
            services.store,
            run_id,
            services.clock,
            repairs_per_day=settings.repairs_per_day,
        ).reason

    return record


def through_worker(services: Services, settings: Settings, timeout_s: float) -> Record:
    app = producer_app(settings.broker_url)

    def record(events: list[dict[str, Any]]) -> str | None:
        publish_events(app, events)
        wait_settled(services, events[0]["workflow_run_id"], len(events), timeout_s)
        return None

    return record


def wait_settled(services: Services, run_id: str, events: int, timeout_s: float) -> None:
    """Until the worker took in all the run's events and generated from all of them."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with services.sessions() as session:
            received = session.scalar(
                select(func.count())
                .select_from(m.ReceivedEvent)
                .where(m.ReceivedEvent.workflow_run_id == run_id)
            )
            row = session.get(m.RunDebounce, run_id)
            if (
                received == events
                and row is not None
                and row.due_at is None
                and row.generations > 0
                and row.processed_seq == row.seq
            ):
                return
        time.sleep(0.5)
    raise click.ClickException(f"the worker did not process run {run_id} within {timeout_s:g} s")


def closed_loop(services: Services, settings: Settings, record: Record) -> None:
    """Run the loop and print its account."""
    click.echo(
        "\nclosed loop: the portal workflow (sign in, 3 orders, a refund) on a site "
        "served on\nloopback, in headless Chromium, with the stand-in agent "
        "(deterministic, no model)"
    )
    problem = missing_browser(settings)
    if problem is not None:
        click.echo(f"  not shown: {problem}")
        return
    from worker.demo.portal.site import ACCOUNTS, Site, serve
    from worker.demo.portal.workflow import Inputs

    user = "alice@shop.test"
    inputs = Inputs(user, ACCOUNTS[user].password, ("A-1001", "A-1002", "A-1003"), "refund")
    site = Site()
    with serve(site) as base_url:
        _Loop(services, settings, record, site, base_url, inputs).run()


class _Loop:
    def __init__(
        self,
        services: Services,
        settings: Settings,
        record: Record,
        site: Site,
        base_url: str,
        inputs: Inputs,
    ) -> None:
        self.services, self.chromium, self.record = services, settings.chromium_path, record
        self.site, self.base_url, self.inputs = site, base_url, inputs
        with services.sessions() as session:
            latest = session.scalar(
                select(func.max(m.Workflow.version)).where(m.Workflow.workflow_permanent_id == WPID)
            )
        self.workflow_version = (latest or 0) + 1

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        """The loop in one event loop, every run in a browser context of one Chromium started
        here (worker/browser/chromium.py, `warm_chromium`): not a Chromium per run."""
        from worker.browser.chromium import warm_chromium
        from worker.demo.portal.closed_loop import agent_run

        v = self.workflow_version
        async with warm_chromium(self.chromium):
            learned = await agent_run(
                self.chromium,
                self.base_url,
                self.inputs,
                f"wr_demo_{v}_agent",
                wpid=WPID,
                workflow_version=v,
            )
            agent_effects = self.effects()
            click.echo(f"  1. the agent runs it, nothing cached: {_calls(learned)}")
            first = self.generate(learned)
            clean = await self.replay(f"wr_demo_{v}_code", first)
            same = self.effects() == agent_effects
            click.echo(f"  2. replay of revision {first} from code: {_outcome(clean, same)}")
            live, step = first, 3
            for variant, what in REDESIGNS:
                self.site.variant = variant
                click.echo(f"  {step}. the site is redesigned ({variant}: {what})")
                broken = await self.replay(f"wr_demo_{v}_{variant}", live)
                same = self.effects() == agent_effects
                click.echo(f"     replay of revision {live}: {_outcome(broken, same)}")
                repaired = self.generate(broken)
                if repaired == live:
                    return
                fixed = await self.replay(f"wr_demo_{v}_{variant}_repaired", repaired)
                same = self.effects() == agent_effects
                click.echo(
                    f"  {step + 1}. replay of revision {repaired} from code: "
                    f"{_outcome(fixed, same)}"
                )
                live, step = repaired, step + 2
        self.show_diff(live - 1, live)

    def generate(self, run: Run) -> int:
        """Record the run's events and generate; print and return the live version."""
        reason = self.record(run.events)
        with self.services.sessions() as session:
            script = read.resolve_script(session, WPID, None)
            rows = read.history_rows(session, script)
            live = next(r for r in rows if r["live"])
            repair = session.scalar(
                select(m.ScriptRevision.repair).where(
                    m.ScriptRevision.script_id == script.script_id,
                    m.ScriptRevision.version == live["version"],
                )
            )
        what = f"{len(run.events)} events"
        if live["source_workflow_run_id"] != run.events[0]["workflow_run_id"]:
            why = f": {reason}" if reason else " (the worker's log line says why)"
            click.echo(f"     its {what}: no new revision{why}")
        else:
            kind = "a repair, " if repair else ""
            click.echo(
                f"     its {what} → revision {live['version']} ({kind}live): "
                f"{live['cached_blocks']} cached blocks"
            )
        return int(live["version"])

    async def replay(self, run_id: str, version: int) -> Run:
        from worker.demo.portal.closed_loop import replay_with_agent

        with self.services.sessions() as session:
            revision = read.select_revision(
                session, read.resolve_script(session, WPID, None), version
            )
            _, definition = read.workflow_definition(session, WPID, self.workflow_version)
        files = read.read_files(self.services.store, revision)
        return await replay_with_agent(
            self.chromium,
            files,
            definition,
            self.inputs,
            script_id=revision.script_id,
            version=version,
            run_id=run_id,
            wpid=WPID,
            workflow_version=self.workflow_version,
        )

    def effects(self) -> tuple[list[Any], list[Any]]:
        """The site's form posts and order views since the last call; the site is cleared."""
        found = list(self.site.posts), list(self.site.views)
        self.site.clear()
        return found

    def show_diff(self, old: int, new: int) -> None:
        with self.services.sessions() as session:
            script = read.resolve_script(session, WPID, None)
            files = [
                read.read_files(self.services.store, read.select_revision(session, script, v))
                for v in (old, new)
            ]
        changed = [
            p
            for p in sorted(files[1])
            if p.startswith("blocks/") and files[0].get(p) != files[1][p]
        ]
        if not changed:
            return
        block = changed[0]
        click.echo(f"\nthe repaired {block} (scriptcache script diff {WPID} {old} {new}, in part):")
        click.echo(
            read.diff(
                {block: files[0].get(block, b"")}, {block: files[1][block]}, f"v{old}", f"v{new}"
            ),
            nl=False,
        )


def _calls(run: Run) -> str:
    blocks = _counted(label for kind, label in run.calls if kind == "run_block")
    return f"{len(run.calls)} agent calls, one per block\n{INDENT}({blocks})"


def _outcome(run: Run, same_effects: bool) -> str:
    parts = []
    if run.relocated:
        labels = _counted(label for label, _ in run.relocated)
        parts.append(
            f"{len(run.relocated)} blocks relocated (their elements moved and were "
            f"found again\n{INDENT}by the matcher, without the agent: {labels})"
        )
    if run.fallbacks:
        labels = _counted(label for label, _, _ in run.fallbacks)
        parts.append(
            f"{len(run.fallbacks)} fallbacks, {len(run.calls)} agent calls, one per "
            f"failed action\n{INDENT}({labels})"
        )
    if not run.fallbacks:
        parts.append(f"{'' if run.relocated else '0 fallbacks, '}0 agent calls")
    text = f"\n{INDENT}".join(parts)
    return (
        text
        + f"\n{INDENT}"
        + (
            "the same form posts and order views as the agent's run"
            if same_effects
            else "NOT the agent's form posts and order views"
        )
    )


def _counted(labels: Iterable[str | None]) -> str:
    """`a, b x3, c`: each label once, in order, with how often it came (loop iterations)."""
    counts = Counter(label or "" for label in labels)
    return ", ".join(f"{label} x{n}" if n > 1 else label for label, n in counts.items())
