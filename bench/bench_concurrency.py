"""Many replays on one machine (issue 25): concurrent replays of the portal workflow in one
process on one warm Chromium, against separate `scriptcache replay` processes.

    .venv/bin/python bench/bench_concurrency.py                  # 1, 4, 8, 16 at once
    .venv/bin/python bench/bench_concurrency.py --levels 1,8 --per-level 2
    .venv/bin/python bench/bench_concurrency.py --per-level 4 --pairs 6   # and 6 paired rounds

The portal (worker/demo/portal) serves one account per replay: every replay signs in as its
own user, reads that user's three orders and requests a refund for the last one with its own
reason, so each replay's effect can be found in the site's own records afterwards (its order
page views, and exactly one refund post for its last order with its reason, and no other).
The script is learned once from the stand-in agent's run (as bench/bench_cli.py learns it)
into a SQLite database and a blob directory, which the CLI processes read too.

- **in one process**: at N concurrent replays, a pool of N asyncio tasks runs `per_level x N`
  replays (at least 4) through `worker.browser.replay.replay_and_emit`, each in its own browser
  context of one `WarmChromium` (started once, before the levels: its start is not in them);
- **paired** (`--pairs N`): N rounds of 16 replays against 16 runs of the hand-written
  script (bench/handwritten.py), 8 at once in the same warm Chromium, alternating which goes
  first: the replay's share of the pool's ceiling, measured under the same load;
- **separate processes**: 16 `scriptcache replay WPID --params ... --credentials @FILE --json`
  processes (each starts its own Python, Playwright driver and Chromium), all 16 started at
  once, and again with at most 8 running at a time.

Replays per minute are the replays finished over the wall time from the first start to the
last end, in a pass that reads nothing else. Memory is read in a pass of its own at each level
(`at_once` more replays, one wave): reading Pss costs about 2 ms of CPU per Chromium process
(smaps_rollup walks its page tables), 40 ms a sample of the pool and several times that of 16
CLI process trees, which would tax the replays it measures, the CLI's most. There RSS is
sampled every 0.2 s over this process and all its descendants (the Playwright driver, Chromium
and its renderers; for the CLI, each process tree), summed from /proc (VmRSS counts pages
shared between processes once per process; Pss shares them out, from smaps_rollup); the peak
of each is divided by the replays running at once. Every replay of both passes has its
effects checked. Prints figures and writes docs/concurrency.png; asserts nothing about timing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import handwritten
from common import ROOT, Result, Row, children, machine

from worker.adapters.sql import scripts as read
from worker.adapters.sql.engine import make_engine, make_sessionmaker
from worker.adapters.store import open_store
from worker.browser.chromium import WarmChromium, chromium_path, using
from worker.browser.emit import RunInfo
from worker.browser.replay import Hooks, replay_and_emit
from worker.demo.loop import WPID
from worker.demo.portal.site import ACCOUNTS, REFUND_REASONS, Account, Order, Site, serve
from worker.demo.portal.workflow import Inputs, read_status_total
from worker.domain.definition import Definition

NAME = "12 concurrency"
LEVELS = (1, 4, 8, 16)
CLI_REPLAYS = 16
GOAL = 4.0  # replays per minute at 8 concurrent ≥ 4x those of separate processes
HAND_AT_ONCE = 8  # the hand-written level: the same workflow without scriptcache
SAMPLE_S = 0.2
SCRIPTCACHE = str(Path(sys.executable).with_name("scriptcache"))


def accounts(count: int) -> dict[str, Account]:
    """One account per replay, each with three orders of its own."""
    return {
        f"user{n:03d}@shop.test": Account(
            f"pw-{n:03d}-Kx9!",
            tuple(Order(f"U{n:03d}-{i}", "shipped", f"{10 + n}.{i}0") for i in (1, 2, 3)),
        )
        for n in range(count)
    }


def inputs_of(user: str, account: Account, n: int) -> Inputs:
    reason = sorted(REFUND_REASONS)[n % len(REFUND_REASONS)]
    return Inputs(user, account.password, tuple(o.number for o in account.orders), "refund", reason)


def effects_wrong(site: Site, jobs: list[Inputs]) -> list[str]:
    """What the site's records say each replay did, where it is not what it was asked: its
    three order views, and one refund of its last order with its reason."""
    wrong = []
    for job in jobs:
        views = [number for user, number in site.views if user == job.username]
        last = job.order_numbers[-1]
        refunds = [
            p.fields for p in site.posts if p.path == "/refunds" and p.fields["order"] == last
        ]
        if views != list(job.order_numbers) or refunds != [
            {"order": last, "reason": job.refund_reason}
        ]:
            wrong.append(f"{job.username}: views {views}, refunds {refunds}")
    drafts = [p for p in site.posts if p.path not in ("/login", "/refunds")]
    return wrong + [f"unexpected post {p.path}" for p in drafts]


# --- memory of a process tree, from /proc ----------------------------------------------------


def _kib(path: str, key: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def tree_memory(roots: list[int]) -> tuple[int, int]:
    """(VmRSS, Pss) summed over these processes and their descendants, in KiB."""
    rss = pss = 0
    todo, seen = list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        rss += _kib(f"/proc/{pid}/status", "VmRSS:")
        pss += _kib(f"/proc/{pid}/smaps_rollup", "Pss:")
        todo.extend(children(pid))
    return rss, pss


@dataclass
class Peak:
    """The highest tree memory seen while sampling."""

    rss_kib: int = 0
    pss_kib: int = 0

    def see(self, roots: list[int]) -> None:
        rss, pss = tree_memory(roots)
        self.rss_kib, self.pss_kib = max(self.rss_kib, rss), max(self.pss_kib, pss)


async def sampled(peak: Peak | None, roots: Callable[[], list[int]], work: Awaitable[Any]) -> Any:
    """Await `work` while sampling the memory of `roots()` every SAMPLE_S (None: not)."""
    if peak is None:
        return await work
    task = asyncio.ensure_future(work)
    while not task.done():
        await asyncio.to_thread(peak.see, roots())
        await asyncio.wait({task}, timeout=SAMPLE_S)
    return task.result()


@dataclass
class Level:
    name: str
    at_once: int
    replays: int
    wall_s: float
    peak: Peak
    wrong: list[str] = field(default_factory=list)  # of either pass
    failed: list[str] = field(default_factory=list)  # of the timed pass
    memory_replays: int = 0  # the pass that read memory

    @property
    def per_minute(self) -> float:
        return (self.replays - len(self.failed)) / self.wall_s * 60

    @property
    def effects(self) -> str:
        """Replays of both passes whose effects the site's records show right."""
        checked = self.replays + self.memory_replays
        return f"{checked - len(self.failed) - len(self.wrong)}/{checked}"

    def row(self) -> str:
        return (
            f"| {self.name} | {self.at_once} | {self.replays} | {self.wall_s:.1f} | "
            f"**{self.per_minute:.1f}** | {self.peak.rss_kib / 1024:.0f} | "
            f"{self.peak.rss_kib / 1024 / self.at_once:.0f} | "
            f"{self.peak.pss_kib / 1024 / self.at_once:.0f} | "
            f"{self.effects} |"
        )


# --- in one process ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    files: dict[str, bytes]
    definition: Definition
    info: RunInfo


def live_revision(database_url: str, store_url: str) -> Revision:
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            script = read.resolve_script(session, WPID, None)
            revision = read.select_revision(session, script, None)
            version, definition = read.workflow_definition(session, WPID, None)
        files = read.read_files(open_store(store_url), revision)
    finally:
        engine.dispose()
    return Revision(files, definition, RunInfo(WPID, version, revision.script_id, revision.version))


async def one_replay(revision: Revision, job: Inputs, chromium: str) -> None:
    done = await replay_and_emit(
        revision.files,
        revision.definition,
        job.parameters(),
        job.credentials(),
        info=revision.info,
        chromium_path=chromium,
        hooks=Hooks(extractor=read_status_total),
    )
    # exit 3: the live `settle` block is left undone (no platform runs it here), as the CLI's
    if done.result.exit_status not in (0, 3) or done.result.fallback_count():
        raise RuntimeError(f"{job.username}: {done.result.error or done.result.fallbacks}")


async def one_by_hand(warm: WarmChromium, job: Inputs, base_url: str) -> None:
    """The same workflow written by hand in Playwright (bench/handwritten.py), in a context of
    the same warm Chromium: the browser work a replay drives, with nothing of scriptcache."""
    async with warm.page() as page:
        await handwritten.portal(
            page, base_url, job.username, job.password, job.order_numbers, job.refund_reason
        )


async def in_process(
    warm: WarmChromium,
    jobs: list[Inputs],
    at_once: int,
    one: Callable[[Inputs], Awaitable[None]],
    peak: Peak | None = None,
) -> tuple[float, list[str]]:
    queue = list(jobs)
    failed: list[str] = []

    async def worker() -> None:
        while queue:
            job = queue.pop(0)
            try:
                await one(job)
            except Exception as exc:  # one replay's failure is its own
                failed.append(f"{job.username}: {str(exc).splitlines()[0]}")

    async with using(warm):
        t0 = time.perf_counter()
        await sampled(
            peak,
            lambda: [os.getpid()],
            asyncio.gather(*(worker() for _ in range(at_once))),
        )
        wall = time.perf_counter() - t0
    return wall, failed


# The replays of one pass: (jobs, at once, the memory peak to sample or None) -> (wall
# seconds, failures).
Go = Callable[[list[Inputs], int, Peak | None], Awaitable[tuple[float, list[str]]]]


# --- separate processes -----------------------------------------------------------------------


async def cli_processes(
    jobs: list[Inputs], at_once: int, env: dict[str, str], tmp: Path, peak: Peak | None = None
) -> tuple[float, list[str]]:
    queue = list(jobs)
    running: list[int] = []
    failed: list[str] = []

    async def worker() -> None:
        while queue:
            job = queue.pop(0)
            secrets = tmp / f"{job.username}.json"
            secrets.write_text(json.dumps(job.credentials()), encoding="utf-8")
            proc = await asyncio.create_subprocess_exec(
                SCRIPTCACHE,
                "replay",
                WPID,
                "--params",
                json.dumps(job.parameters()),
                "--credentials",
                f"@{secrets}",
                "--json",
                env=env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            running.append(proc.pid)
            _, err = await proc.communicate()
            running.remove(proc.pid)
            if proc.returncode not in (0, 3):
                failed.append(f"{job.username}: exit {proc.returncode}: {err.decode()[-300:]}")

    t0 = time.perf_counter()
    await sampled(peak, lambda: list(running), asyncio.gather(*(worker() for _ in range(at_once))))
    return time.perf_counter() - t0, failed


# --- the run ----------------------------------------------------------------------------------


async def measure(
    site: Site,
    base_url: str,
    revision: Revision,
    users: list[tuple[str, Account]],
    levels: tuple[int, ...],
    per_level: int,
    cli_replays: int,
    chromium: str,
    env: dict[str, str],
    tmp: Path,
    pairs: int = 0,
) -> list[Level]:
    results: list[Level] = []
    users = list(users)

    def take(count: int) -> list[Inputs]:
        taken, users[:] = users[:count], users[count:]
        return [inputs_of(user, account, n) for n, (user, account) in enumerate(taken)]

    async def run(
        name: str,
        at_once: int,
        count: int,
        go: Go,
    ) -> None:
        """`count` replays timed, then one wave of `at_once` with their memory read."""
        jobs, memory_jobs, peak = take(count), take(at_once), Peak()
        wall, failed = await go(jobs, at_once, None)
        _, memory_failed = await go(memory_jobs, at_once, peak)
        wrong = effects_wrong(site, jobs + memory_jobs) + memory_failed
        level = Level(name, at_once, len(jobs), wall, peak, wrong, failed, len(memory_jobs))
        results.append(level)
        print(
            f"{name}, {at_once} at once: {len(jobs)} replays in {wall:.1f} s, "
            f"{level.per_minute:.1f}/min, peak RSS {peak.rss_kib / 1024:.0f} MiB, "
            f"{len(level.wrong)} wrong, {len(failed)} failed (load {os.getloadavg()[0]:.2f})",
            flush=True,
        )
        for problem in [*failed, *level.wrong][:5]:
            print(f"  {problem}", flush=True)

    def replay(job: Inputs) -> Awaitable[None]:
        return one_replay(revision, job, chromium)

    def by_hand(job: Inputs) -> Awaitable[None]:
        return one_by_hand(warm, job, base_url)

    def in_pool(one: Callable[[Inputs], Awaitable[None]]) -> Go:
        async def go(
            jobs: list[Inputs], at_once: int, peak: Peak | None
        ) -> tuple[float, list[str]]:
            return await in_process(warm, jobs, at_once, one, peak)

        return go

    pool, pool_by_hand = in_pool(replay), in_pool(by_hand)

    async def cli(jobs: list[Inputs], at_once: int, peak: Peak | None) -> tuple[float, list[str]]:
        return await cli_processes(jobs, at_once, env, tmp, peak)

    warm = await WarmChromium(chromium).start()
    try:
        await in_process(warm, take(1), 1, replay)  # warm-ups, not counted
        await in_process(warm, take(1), 1, by_hand)
        for at_once in levels:
            await run(
                "one process, warm Chromium",
                at_once,
                max(4, per_level * at_once),
                pool,
            )
        # The ceiling of the pool: the same browser work with no scriptcache at all.
        await run(
            "hand-written Playwright, one process, warm Chromium",
            HAND_AT_ONCE,
            max(4, per_level * HAND_AT_ONCE),
            pool_by_hand,
        )
        await paired(pairs, take, pool, pool_by_hand, site)
    finally:
        await warm.close()
    for at_once in (cli_replays, min(8, cli_replays)):
        await run(
            "`scriptcache replay` processes",
            at_once,
            cli_replays,
            cli,
        )
    return results


PAIRED = 16  # replays of each side in a round of `paired`


async def paired(
    rounds: int,
    take: Callable[[int], list[Inputs]],
    pool: Go,
    by_hand: Go,
    site: Site,
) -> None:
    """The replay against the hand-written script at HAND_AT_ONCE, in rounds that alternate
    which goes first: the ratio of the two under the same load, which the levels above
    (each run once, one after the other) cannot give."""
    if rounds <= 0:
        return
    ratios = []
    for n in range(rounds):
        rates: dict[str, float] = {}
        sides = [("replay", pool), ("by hand", by_hand)]
        for name, go in sides if n % 2 == 0 else sides[::-1]:
            jobs = take(PAIRED)
            wall, failed = await go(jobs, HAND_AT_ONCE, None)
            wrong = effects_wrong(site, jobs)
            if failed or wrong:
                print(f"  round {n + 1} {name}: {[*failed, *wrong][:3]}", flush=True)
            rates[name] = (len(jobs) - len(failed)) / wall * 60
        ratios.append(rates["replay"] / rates["by hand"])
        print(
            f"round {n + 1}, {HAND_AT_ONCE} at once: replay {rates['replay']:.1f}/min, by hand "
            f"{rates['by hand']:.1f}/min, replay / by hand {ratios[-1]:.2f} "
            f"(load {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    print(
        f"replay / by hand at {HAND_AT_ONCE} at once, median of {rounds}: "
        f"{statistics.median(ratios):.2f}",
        flush=True,
    )


def result(levels: list[Level]) -> Result:
    ours = {lv.at_once: lv for lv in levels if lv.name.startswith("one process")}
    cli = [lv for lv in levels if lv.name.startswith("`scriptcache")]
    rows = []
    for separate in cli:
        for at_once, level in sorted(ours.items()):
            rows.append(
                Row(
                    NAME,
                    f"replays per minute, {at_once} at once in one process",
                    level.per_minute,
                    separate.per_minute,
                    "/min",
                    f"{separate.replays} CLI processes, {separate.at_once} at a time",
                    better="higher",
                    goal=f"≥ {GOAL:g}x" if at_once == 8 else "",
                    goal_min=GOAL if at_once == 8 else None,
                )
            )
    notes = [
        f"{lv.name}, {lv.at_once} at once: {lv.replays} replays, {lv.wall_s:.1f} s, peak RSS "
        f"{lv.peak.rss_kib / 1024:.0f} MiB (Pss {lv.peak.pss_kib / 1024:.0f} MiB), effects "
        f"right {lv.effects}"
        for lv in levels
    ]
    series = {
        "concurrency": {
            kind: [
                (lv.at_once, lv.per_minute, lv.peak.rss_kib / 1024 / lv.at_once)
                for lv in levels
                if lv.name.startswith(prefix)
            ]
            for kind, prefix in (("in_process", "one process"), ("cli", "`scriptcache"))
        }
    }
    return Result(rows, notes, series)


def concurrency_table(levels: list[Level]) -> str:
    lines = [
        "| how | at once | replays | wall s | replays/min | peak RSS MiB | RSS MiB per "
        "concurrent replay | Pss MiB per concurrent replay | effects right |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    return "\n".join(lines + [lv.row() for lv in levels])


def cli_env(database_url: str, store_url: str, chromium: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCRIPTCACHE_", "PYTHON"))}
    env.update(
        {
            "SCRIPTCACHE_DATABASE_URL": database_url,
            "SCRIPTCACHE_STORE_URL": store_url,
            "SCRIPTCACHE_CHROMIUM_PATH": chromium,
            "SCRIPTCACHE_BROKER_URL": "redis://127.0.0.1:6379/15",  # not used: no --publish
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def run(
    levels: tuple[int, ...] = LEVELS,
    per_level: int = 2,
    cli_replays: int = CLI_REPLAYS,
    pairs: int = 0,
) -> Result:
    from bench_cli import learn_portal

    chromium = chromium_path(os.environ)
    needed = (
        2
        + sum(max(4, per_level * n) + n for n in (*levels, HAND_AT_ONCE))
        + sum(cli_replays + n for n in (cli_replays, min(8, cli_replays)))
        + 2 * PAIRED * pairs
    )
    users = accounts(needed)
    site = Site(accounts={**ACCOUNTS, **users})
    with tempfile.TemporaryDirectory(prefix="bench-concurrency-") as tmp_name, serve(site) as url:
        tmp = Path(tmp_name)
        database_url, _, _ = learn_portal(tmp, chromium, url)
        store_url = f"file://{tmp / 'blobs'}"
        revision = live_revision(database_url, store_url)
        env = cli_env(database_url, store_url, chromium)
        done = asyncio.run(
            measure(
                site,
                url,
                revision,
                list(users.items()),
                levels,
                per_level,
                cli_replays,
                chromium,
                env,
                tmp,
                pairs,
            )
        )
    print()
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(concurrency_table(done))
    outcome = result(done)
    ours8 = [lv for lv in done if lv.at_once == 8 and lv.name.startswith("one")]
    hand = [lv for lv in done if lv.name.startswith("hand")]
    for lv in done:
        if lv.name.startswith("`") and ours8:
            print(
                f"at 8 at once in one process: x{ours8[0].per_minute / lv.per_minute:.2f} the "
                f"replays per minute of {lv.replays} CLI processes {lv.at_once} at a time"
                + (
                    f" (hand-written Playwright, 8 at once in one process: "
                    f"x{hand[0].per_minute / lv.per_minute:.2f})"
                    if hand
                    else ""
                )
            )
    return outcome


def plot_png(outcome: Result, path: Path) -> None:
    import matplotlib.pyplot as plt
    from plot import PANELS

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    PANELS["concurrency"](ax, outcome.series["concurrency"])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)))
    parser.add_argument("--per-level", type=int, default=2, help="replays per concurrent slot")
    parser.add_argument("--cli-replays", type=int, default=CLI_REPLAYS)
    parser.add_argument(
        "--pairs", type=int, default=0, help="rounds of the replay against the hand-written script"
    )
    parser.add_argument("--png", type=Path, default=ROOT / "docs" / "concurrency.png")
    parser.add_argument(
        "--replot", type=Path, default=None, help="plot the series a run printed (JSON), only"
    )
    args = parser.parse_args()
    if args.replot is not None:
        plot_png(Result(series={"concurrency": json.loads(args.replot.read_text())}), args.png)
        print(f"wrote {args.png}")
        return
    print(f"machine: {machine()}")
    outcome = run(
        tuple(int(x) for x in args.levels.split(",")), args.per_level, args.cli_replays, args.pairs
    )
    print(*outcome.notes, sep="\n")
    print(f"series: {json.dumps(outcome.series['concurrency'])}")
    try:
        plot_png(outcome, args.png)
    except ImportError as exc:  # the bench extra is not installed
        print(f"no plot ({exc}): .venv/bin/pip install -e '.[bench]'")
    else:
        print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
