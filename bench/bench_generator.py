"""4. Generator scaling: time and peak memory of worker.domain.codegen.generate_script for recordings
of 100, 1,000 and 10,000 task blocks (20 actions each), all labels generated.

Time is measured without tracemalloc (best of `repeat`), peak memory in a separate traced
call. Baseline: the per-block figures of the smallest recording, in the same run.

    .venv/bin/python bench/bench_generator.py [--sizes 100,1000,10000] [--actions 20]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

from bench_codegen import synthetic_run
from common import Result, Row, fmt

from worker.domain.codegen import generate_script


def measure(blocks: int, actions: int, repeat: int) -> dict[str, float]:
    run = synthetic_run(blocks, actions)
    labels = frozenset(b.label for b in run.blocks)
    timings_s = []
    for _ in range(repeat):
        gc.collect()
        started = time.perf_counter()
        script = generate_script(run, labels, {})
        timings_s.append(time.perf_counter() - started)
    size_bytes = sum(len(data) for data in script.files.values())
    del script
    gc.collect()
    tracemalloc.start()
    generate_script(run, labels, {})
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"time_s": min(timings_s), "peak_bytes": peak_bytes, "output_bytes": size_bytes}


def run(sizes: list[int], actions: int = 20) -> Result:
    figures = {n: measure(n, actions, repeat=3 if n <= 1000 else 1) for n in sizes}
    smallest = sizes[0]
    base = figures[smallest]
    rows: list[Row] = []
    for n, f in figures.items():
        rows.append(
            Row(
                "4 generator",
                f"time per block, {n:,} blocks",
                f["time_s"] / n * 1000,
                base["time_s"] / smallest * 1000,
                "ms",
                f"{smallest} blocks",
                goal="linear or better (ratio ≥ ~1)",
            )
        )
        rows.append(
            Row(
                "4 generator",
                f"peak memory per block, {n:,} blocks",
                f["peak_bytes"] / n / 1024,
                base["peak_bytes"] / smallest / 1024,
                "KiB",
                f"{smallest} blocks",
            )
        )
    notes = [
        "Totals — "
        + "; ".join(
            f"{n:,} blocks ({n * actions:,} actions): {f['time_s']:.2f} s, peak "
            f"{f['peak_bytes'] / 2**20:.1f} MiB traced, {f['output_bytes'] / 2**20:.1f} MiB of files"
            for n, f in figures.items()
        )
        + "."
    ]
    return Result(rows=rows, notes=notes, series={"generator": figures})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--actions", type=int, default=20)
    args = parser.parse_args()
    result = run([int(s) for s in args.sizes.split(",")], args.actions)
    for r in result.rows:
        print(f"{r.metric}: {fmt(r.value)} {r.unit} (baseline {fmt(r.baseline)})")
    print(*result.notes, sep="\n")


if __name__ == "__main__":
    main()
