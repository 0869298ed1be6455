"""How long generate_script takes for 500 task blocks of 50 actions each.

.venv/bin/python bench/bench_codegen.py [--blocks 500] [--actions 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from worker.domain.codegen import generate_script
from worker.domain.definition import Definition
from worker.domain.run import ActionRecord, BlockRun, RunRecord, TaskRecord

KINDS = ("click", "input_text", "select_option", "hover", "keypress", "scroll", "extract")


def synthetic_run(blocks: int, actions: int) -> RunRecord:
    definition = Definition.model_validate(
        {
            "title": "bench",
            "parameters": [{"key": "name", "parameter_type": "workflow"}],
            "blocks": [
                {"label": f"step {b}", "block_type": "task", "url": f"https://app.test/page/{b}"}
                for b in range(blocks)
            ],
        }
    )
    runs = tuple(
        BlockRun(
            f"wrb_{b}",
            f"step {b}",
            "task",
            "completed",
            "agent",
            task=TaskRecord(
                f"t_{b}",
                data_extraction_goal="Read the table",
                extracted_information_schema={"rows": {"type": "array"}},
            ),
            actions=tuple(
                ActionRecord(
                    f"a_{b}_{i}",
                    KINDS[i % len(KINDS)],
                    f"//div[@id='b{b}']//input[{i}]",
                    f"Do step {i} of block {b}",
                    text=f"value {i}",
                    option=f"option {i}",
                    parameter_key="name" if i % 10 == 0 else None,
                )
                for i in range(actions)
            ),
        )
        for b in range(blocks)
    )
    return RunRecord("wr_bench", "wpid_bench", 1, definition, blocks=runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--blocks", type=int, default=500)
    parser.add_argument("--actions", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    run = synthetic_run(args.blocks, args.actions)
    labels = frozenset(b.label for b in run.blocks)
    timings_s = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        script = generate_script(run, labels, {})
        timings_s.append(time.perf_counter() - started)
    size_bytes = sum(len(data) for data in script.files.values())
    print(
        f"generate_script: {args.blocks} task blocks x {args.actions} actions "
        f"({args.blocks * args.actions} actions): median {statistics.median(timings_s):.2f} s, "
        f"min {min(timings_s):.2f} s over {args.repeat} runs; "
        f"{len(script.files)} files, {size_bytes / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
