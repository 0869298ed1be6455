"""Run every benchmark, print the table, write docs/BENCHMARKS.md and docs/benchmarks.png.

    .venv/bin/python bench/run_all.py            # full sizes (also: make bench)
    .venv/bin/python bench/run_all.py --quick    # small sizes (or SCRIPTCACHE_BENCH_QUICK=1)
    .venv/bin/python bench/run_all.py --only 1,3 --memory-events 30000

Needs PostgreSQL (SCRIPTCACHE_TEST_PG_URL, default postgres@localhost:5432) and redis-server on
PATH; creates its own databases and Redis and removes them at the end. Benchmarks print
figures and assert nothing about timing.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import bench_concurrency
import bench_convergence
import bench_generator
import bench_intake
import bench_latency
import bench_memory
import bench_realapp
import bench_realistic
import bench_recovery
import bench_replay_speed
import bench_scheduling
import bench_statements
from common import ROOT, Databases, Result, fmt, machine, redis_server

FULL = {
    "runs": 100,
    "blocks": 50,
    "intake_events": 10_000,
    "statement_sizes": "10,100,1000",
    "generator_sizes": "100,1000,10000",
    "latency_runs": 200,
    "memory_events": 100_000,
    "realistic_runs": 100,
    "realistic_scale": 20.0,
    "recovery_trials": 10,
    "speed_runs": 7,
    "concurrency_per_level": 2,
}
QUICK = {
    "runs": 20,
    "blocks": 20,
    "intake_events": 2_000,
    "statement_sizes": "10,100,1000",
    "generator_sizes": "100,300,1000",
    "latency_runs": 30,
    "memory_events": 10_000,
    "realistic_runs": 20,
    "realistic_scale": 40.0,
    "recovery_trials": 3,
    "speed_runs": 3,
    "concurrency_per_level": 1,
}

BASELINES = """\
- **1 scheduling** — *regenerate on every block* (the reference's behaviour): the same events,
  recorded one transaction each (with `record_event`'s statements: scriptcache's intake takes
  a block event in one statement, which shows only in the "total" row), and after **every**
  `block_completed` the run's
  executed labels are all regenerated with `worker.domain.codegen.generate_script` and published with
  `worker.adapters.sql.cache.publish` (live entries of other labels carried forward). scriptcache's side is
  `worker.app.intake.take_in` + `worker.app.generation.generate_due` driven **in-process on a
  simulated clock** (each event taken in at its recorded time; a run processed when the clock
  reaches the due time intake returned — an ideal wake-up, no Celery), default timings (quiet
  2 s x a factor of 10 of the run's typical gap, max wait 1200 s).
  The baseline is generous: it publishes in one transaction (the reference commits 30-100
  times) and writes nothing when the content is unchanged.
- **2 intake** — *no-op task*: bench/noop_app.py, the same task names, queue, Celery options
  and messages, empty bodies, one worker process each (`prefork -c 1`), messages published
  before the worker starts.
- **3 statements/generation** — the same figure for the smallest run, in the same database.
  An executemany counts once (psycopg 3 sends its rows in one batch).
- **4 generator** — the per-block figures of the smallest recording.
- **5 latency** — the moment the run_finished event itself is recorded (intake only), seen in
  the same poll: the floor under any generation.
- **6 memory** — the worker's RSS at 10 % of the events (after warm-up).
- **7 convergence** — *no repair*: the same replays with the agent plug-in and the same
  generation, with SCRIPTCACHE_REPAIRS_PER_DAY=0, so a cached block that fell back stays as it
  is; and *always agent*: every run is the stand-in agent's, nothing cached. 20 runs of the
  portal workflow; the site changes before runs 5 (v2), 10 (v3) and 15 (a welcome dialog in
  the first loop iteration only).
- **8 real-app fidelity** — *the agent run* the cached script replaces: its recorded time
  (the sum of its block durations, at one 3 s model step per action and per block); agent
  calls against a cache that is *never repaired*, computed as the first run after each
  change repeated for the later runs of that site state (the script and the site stay the
  same, so every run falls back alike).

- **9 realistic timing** — the same *regenerate on every block* baseline, in-process, over
  the same stream; scriptcache's side twice: in-process on a simulated clock (unscaled,
  default timings) and as a real worker + beat with every duration divided by the scale.
- **10 recovery** — the bound the design promises: one lease plus one sweep interval.
- **11 replay speed** — *the same actions written by hand in Playwright* (bench/handwritten.py:
  the same pages and selectors, no scriptcache), in the same rounds as the replay of the cached
  script, with Chromium warm and started per run.
- **12 concurrency** — *separate `scriptcache replay` processes* (16 of them, all at once and
  8 at a time) against N replays at once in one process on one warm Chromium.

Ratio: baseline ÷ scriptcache for lower-is-better figures, scriptcache ÷ baseline for
higher-is-better ones; above 1 means scriptcache is ahead of its baseline."""


def sizes(args: argparse.Namespace) -> dict[str, object]:
    chosen: dict[str, object] = dict(QUICK if args.quick else FULL)
    for key in FULL:
        value = getattr(args, key)
        if value is not None:
            chosen[key] = value
    return chosen


def run(only: set[str], s: dict[str, object]) -> list[Result]:
    results: list[Result] = []
    dbs = Databases()
    try:
        with redis_server() as broker_url:
            steps = {
                "1": lambda: bench_scheduling.run(dbs, int(s["runs"]), int(s["blocks"])),
                "2": lambda: bench_intake.run(dbs, broker_url, int(s["intake_events"])),
                "3": lambda: bench_statements.run(dbs, _ints(s["statement_sizes"])),
                "4": lambda: bench_generator.run(_ints(s["generator_sizes"])),
                "5": lambda: bench_latency.run(dbs, broker_url, int(s["latency_runs"])),
                "6": lambda: bench_memory.run(dbs, broker_url, int(s["memory_events"])),
                "7": lambda: bench_convergence.run(),
                "8": lambda: bench_realapp.run(dbs),
                "9": lambda: bench_realistic.run(
                    dbs, int(s["realistic_runs"]), float(s["realistic_scale"])
                ),
                "10": lambda: bench_recovery.run(dbs, int(s["recovery_trials"])),
                "11": lambda: bench_replay_speed.run(int(s["speed_runs"])),
                "12": lambda: bench_concurrency.run(per_level=int(s["concurrency_per_level"])),
            }
            for key, step in steps.items():
                if key in only:
                    started = time.monotonic()
                    print(f"benchmark {key} ...", file=sys.stderr, flush=True)
                    results.append(step())
                    print(
                        f"benchmark {key}: {time.monotonic() - started:.0f} s",
                        file=sys.stderr,
                        flush=True,
                    )
    finally:
        dbs.drop_all()
    return results


def _ints(text: object) -> list[int]:
    return [int(x) for x in str(text).split(",")]


def table(results: list[Result]) -> str:
    lines = [
        "| benchmark | metric | scriptcache | baseline | ratio | goal | met |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for result in results:
        for r in result.rows:
            unit = f" {r.unit}" if r.unit else ""
            lines.append(
                f"| {r.bench} | {r.metric} | {fmt(r.value)}{unit} | "
                f"{fmt(r.baseline)}{unit} | x{fmt(r.ratio())} | {r.goal} | {r.met()} |"
            )
    return "\n".join(lines)


def document(
    results: list[Result], s: dict[str, object], command: str, elapsed_s: float, host: str
) -> str:
    notes = "\n".join(f"- **{r.rows[0].bench}** — {n}" for r in results for n in r.notes)
    return f"""# Benchmarks

Generated by `{command}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC in {elapsed_s / 60:.1f} min:
run `make bench` (full sizes) or `.venv/bin/python bench/run_all.py --quick` again rather than
edit it. Only the "{FINDINGS}" section is written by hand; regenerating keeps it.

**Machine:** {host}. Other work (test suites) was running on the same machine, so timings are
noisy; each figure and its baseline were measured in the same run, one after the other.

**Sizes:** {", ".join(f"{k}={v}" for k, v in s.items())}.

{table(results)}

![benchmarks](benchmarks.png)

## Notes

{notes}

## Baselines

{BASELINES}
"""


FINDINGS = "Findings"


def kept_findings(path: Path) -> str:
    """The hand-written findings section of the previous document, if any."""
    text = path.read_text() if path.exists() else ""
    start = text.find(f"\n## {FINDINGS}\n")
    return text[start:] if start >= 0 else ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", default=os.environ.get("SCRIPTCACHE_BENCH_QUICK") == "1"
    )
    parser.add_argument(
        "--only", default="1,2,3,4,5,6,7,8,9,10,11,12", help="benchmarks to run, e.g. 1,3"
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "BENCHMARKS.md")
    for key, value in FULL.items():
        parser.add_argument(f"--{key.replace('_', '-')}", type=type(value), default=None)
    args = parser.parse_args()
    # Stop cleanly (databases dropped, Redis and workers stopped) on Ctrl-C or kill PID,
    # also when started in the background, where SIGINT is ignored by default.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    chosen = sizes(args)
    host = machine()
    started = time.monotonic()
    results = run(set(args.only.split(",")), chosen)
    elapsed_s = time.monotonic() - started
    command = "bench/run_all.py " + " ".join(sys.argv[1:])
    print(table(results))
    for result in results:
        print(*result.notes, sep="\n")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    findings = kept_findings(args.out)
    args.out.write_text(document(results, chosen, command.strip(), elapsed_s, host) + findings)
    print(f"wrote {args.out}")
    try:
        from plot import plot
    except ImportError as exc:  # make install sets up '.[test]' only
        print(f"no plot ({exc}): .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return
    plot(results, args.out.parent / "benchmarks.png")
    print(f"wrote {args.out.parent / 'benchmarks.png'}")


if __name__ == "__main__":
    main()
