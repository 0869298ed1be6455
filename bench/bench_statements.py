"""3. SQL statements per generation for runs of 10, 100 and 1,000 blocks.

Each run (its own workflow of task blocks) is recorded through worker.app.intake.take_in, then
one worker.app.generation.generate_due generates it (claim, load, decide, generate, upload,
publish + compare-and-clear); only the statements of generate_due are counted. Baseline: the same
figure for the smallest run, measured in the same database.

    .venv/bin/python bench/bench_statements.py [--sizes 10,100,1000]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from common import Databases, Result, Row, StatementCounter, fmt, linear_events

from config.settings import Settings
from worker.adapters.clock import ManualClock, utcnow
from worker.adapters.sql.engine import make_engine, make_sessionmaker
from worker.adapters.store import LocalStore
from worker.app.generation import generate_due
from worker.app.intake import take_in

ACTIONS_PER_BLOCK = 5
PAST = datetime(2020, 1, 6, 9, 0, tzinfo=UTC)


def run(dbs: Databases, sizes: list[int]) -> Result:
    url = dbs.fresh()
    engine = make_engine(url)
    counter = StatementCounter(engine)
    sessions = make_sessionmaker(engine)
    settings = Settings(database_url=url)
    per_size: dict[int, dict[str, int]] = {}
    with tempfile.TemporaryDirectory(prefix="sc-bench-") as tmp:
        store = LocalStore(Path(tmp))
        for size in sizes:
            run_id = f"wr_stmts_{size}"
            counter.phase = "record"
            for raw in linear_events(run_id, f"wf_stmts_{size}", size, ACTIONS_PER_BLOCK):
                take_in(sessions, raw, raw["type"], settings, ManualClock(PAST))
            before, counter.verbs = counter.counts.get("generate", 0), {}
            counter.phase = "generate"
            outcome = generate_due(sessions, store, run_id, settings, utcnow)
            assert outcome.generation is not None and outcome.generation.regenerated, outcome
            per_size[size] = {"total": counter.counts["generate"] - before, **counter.verbs}
    engine.dispose()
    smallest = sizes[0]
    rows = [
        Row(
            "3 statements/generation",
            f"statements, run of {size:,} blocks",
            per_size[size]["total"],
            per_size[smallest]["total"],
            "",
            f"run of {smallest} blocks",
            goal="constant",
        )
        for size in sizes
    ]
    breakdown = "; ".join(
        f"{size:,} blocks: " + ", ".join(f"{k} {v}" for k, v in sorted(f.items()) if k != "total")
        for size, f in per_size.items()
    )
    return Result(
        rows=rows,
        notes=[f"By kind — {breakdown}."],
        series={"statements": {s: f["total"] for s, f in per_size.items()}},
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10,100,1000")
    args = parser.parse_args()
    dbs = Databases()
    try:
        result = run(dbs, [int(s) for s in args.sizes.split(",")])
    finally:
        dbs.drop_all()
    for r in result.rows:
        print(f"{r.metric}: {fmt(r.value)} (baseline {fmt(r.baseline)})")
    print(*result.notes, sep="\n")


if __name__ == "__main__":
    main()
