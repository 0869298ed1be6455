"""docs/benchmarks.png: one panel per benchmark that ran (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from common import Result

OURS, BASE = "tab:blue", "tab:gray"
SHORT = {
    "generations (generate_script calls)": "generations",
    "SQL statements, scheduling + generation": "SQL, generation path",
    "SQL statements, total (recording included)": "SQL, total",
    "bytes handed to the blob store": "bytes uploaded",
    "CPU, benchmark process": "CPU s, Python",
    "CPU, PostgreSQL backends": "CPU s, PostgreSQL",
}


def _scheduling(ax: Any, data: dict[str, tuple[float, float]]) -> None:
    names = list(data)
    xs = range(len(names))
    ax.bar(
        [x - 0.2 for x in xs],
        [max(data[n][0], 1e-3) for n in names],
        0.4,
        color=OURS,
        label="scriptcache",
    )
    ax.bar(
        [x + 0.2 for x in xs],
        [max(data[n][1], 1e-3) for n in names],
        0.4,
        color=BASE,
        label="regenerate on every block",
    )
    ax.set_yscale("log")
    ax.set_xticks(list(xs), [SHORT.get(n, n) for n in names], rotation=30, ha="right", fontsize=7)
    ax.set_title("1 scheduling (log scale)")
    ax.legend(fontsize=7)


def _intake(ax: Any, data: dict[str, float]) -> None:
    ax.bar(list(data), list(data.values()), color=[OURS, BASE])
    ax.set_ylabel("events/s")
    ax.set_title("2 intake, one worker process")


def _statements(ax: Any, data: dict[int, int]) -> None:
    ax.plot(list(data), list(data.values()), "o-", color=OURS)
    ax.set_xscale("log")
    ax.set_ylim(0, max(data.values()) * 1.5)
    ax.set_xlabel("blocks in the run")
    ax.set_ylabel("SQL statements")
    ax.set_title("3 statements per generation")


def _generator(ax: Any, data: dict[int, dict[str, float]]) -> None:
    sizes = list(data)
    ax.plot(sizes, [data[n]["time_s"] / n * 1000 for n in sizes], "o-", color=OURS)
    ax.set_xscale("log")
    ax.set_xlabel("blocks (20 actions each)")
    ax.set_ylabel("ms per block", color=OURS)
    twin = ax.twinx()
    twin.plot(sizes, [data[n]["peak_bytes"] / n / 1024 for n in sizes], "s--", color="tab:red")
    twin.set_ylabel("peak KiB per block (tracemalloc)", color="tab:red")
    ax.set_ylim(bottom=0)
    twin.set_ylim(0, max(data[n]["peak_bytes"] / n / 1024 for n in sizes) * 1.3)
    ax.set_title("4 generate_script scaling")


def _latency(ax: Any, data: dict[str, list[float]]) -> None:
    for key, color, label in (
        ("revision", OURS, "committed revision"),
        ("intake", BASE, "run_finished recorded"),
    ):
        values = sorted(v * 1000 for v in data[key])
        ax.plot(
            values, [(i + 1) / len(values) for i in range(len(values))], color=color, label=label
        )
    ax.set_xlabel("ms after run_finished was published")
    ax.set_ylabel("fraction of runs")
    ax.set_title("5 latency (CDF)")
    ax.legend(fontsize=7)


def _memory(ax: Any, data: list[tuple[int, float]]) -> None:
    ax.plot([n for n, _ in data], [rss for _, rss in data], color=OURS)
    ax.set_ylim(0, max(rss for _, rss in data) * 1.2)
    ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}k")
    ax.set_xlabel("events consumed")
    ax.set_ylabel("worker RSS, MiB")
    ax.set_title("6 worker memory")


def _realapp(ax: Any, data: list[dict[str, Any]]) -> None:
    xs = range(1, len(data) + 1)
    ax.bar(
        [x - 0.2 for x in xs],
        [r["agent_calls"] for r in data],
        0.4,
        color="tab:red",
        label="agent calls",
    )
    ax.bar(
        [x + 0.2 for x in xs],
        [r["fallbacks"] for r in data],
        0.4,
        color=BASE,
        label="blocks that fell back",
    )
    ax.set_xlabel("replay (site changes at the dashed lines)")
    ax.set_ylabel("per replay")
    twin = ax.twinx()
    twin.plot(list(xs), [r["wall_s"] for r in data], "o-", color=OURS)
    twin.set_ylabel("replay wall time, s", color=OURS)
    twin.set_ylim(bottom=0)
    for x in range(2, len(data) + 1):
        if data[x - 1]["state"] != data[x - 2]["state"]:
            ax.axvline(x - 0.5, color="k", linestyle="--", linewidth=0.8)
    ax.set_title("8 real-app fidelity (Django admin)")
    ax.legend(fontsize=7, loc="upper right")


def _realistic(ax: Any, data: dict[str, list[int]]) -> None:
    """Generations per run, sorted: scriptcache's sides against the per-block baseline."""
    for key, color, label in (
        ("baseline", BASE, "regenerate on every block"),
        ("simulated", OURS, "scriptcache, simulated clock"),
        ("live", "tab:green", "scriptcache, real worker (scaled)"),
    ):
        if data.get(key):
            values = sorted(data[key])
            ax.plot(range(1, len(values) + 1), values, color=color, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("runs, sorted")
    ax.set_ylabel("generations per run")
    ax.set_title("9 realistic agent timing")
    ax.legend(fontsize=7)


def _recovery(ax: Any, data: dict[str, Any]) -> None:
    seconds = data["seconds"]
    ax.bar(range(1, len(seconds) + 1), seconds, color=OURS)
    ax.axhline(data["bound_s"], color="k", linestyle="--", linewidth=0.8, label="lease + sweep")
    ax.axhline(45, color="tab:red", linestyle=":", linewidth=0.8, label="goal (p99)")
    ax.set_xlabel("trial")
    ax.set_ylabel("s from SIGKILL to revision live")
    ax.set_title("10 recovery after SIGKILL")
    ax.legend(fontsize=7)


def _convergence(ax: Any, data: dict[str, list[tuple[int, int, int, int]]]) -> None:
    styles = {
        "scriptcache": ("o-", OURS),
        "no repair": ("s--", BASE),
        "always agent": ("^:", "tab:orange"),
        "no repair, relocating": ("d-.", "tab:purple"),
        "repair, no relocation": ("v:", "tab:gray"),
    }
    # scriptcache last, on top of the ablation that shares most of its points
    for policy in sorted(data, key=lambda p: p == "scriptcache"):
        runs = data[policy]
        style, color = styles.get(policy, ("x-", "k"))
        ax.plot(
            [r[0] for r in runs],
            [r[1] for r in runs],
            style,
            color=color,
            label=policy,
            markersize=4,
            linewidth=2.2 if policy == "scriptcache" else 1.2,
        )
    for change in (5, 10, 15):
        ax.axvline(change - 0.5, color="k", linestyle="--", linewidth=0.8)
    ax.set_xlabel("run (site changes at the dashed lines)")
    ax.set_ylabel("agent calls per run")
    ax.set_xticks(range(1, 21, 2))
    ax.set_title("7 convergence (portal, stand-in agent)")
    ax.legend(fontsize=7, loc="upper right", bbox_to_anchor=(1.0, 0.86))


def _concurrency(ax: Any, data: dict[str, list[tuple[int, float, float]]]) -> None:
    ours, cli = data["in_process"], data["cli"]
    at_once = [n for n, _, _ in ours]
    ax.plot(
        at_once, [r for _, r, _ in ours], "o-", color="tab:blue", label="one process, warm Chromium"
    )
    for n, rate, _ in cli:
        ax.plot([n], [rate], "s", color="tab:red", label=f"CLI processes, {n} at a time")
    ax.set_xlabel("replays at once")
    ax.set_ylabel("replays per minute")
    ax.set_xticks(sorted({*at_once, *(n for n, _, _ in cli)}))
    ax.set_ylim(bottom=0)
    memory = ax.twinx()
    memory.plot(
        at_once,
        [m for _, _, m in ours],
        "o--",
        color="tab:green",
        label="RSS per replay, one process",
    )
    for n, _, mib in cli:
        memory.plot(
            [n], [mib], "x", color="tab:orange", markersize=9, label=f"RSS per replay, CLI ({n})"
        )
    memory.set_ylabel("peak RSS MiB per concurrent replay")
    memory.set_ylim(bottom=0)
    lines = ax.get_legend_handles_labels()
    more = memory.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=7, loc="lower left")
    ax.set_title("Portal replays on 2 cores: one process vs CLI processes")


PANELS = {
    "scheduling": _scheduling,
    "intake": _intake,
    "statements": _statements,
    "generator": _generator,
    "latency": _latency,
    "memory": _memory,
    "realapp": _realapp,
    "convergence": _convergence,
    "realistic": _realistic,
    "recovery": _recovery,
    "concurrency": _concurrency,
}


def plot(results: list[Result], path: Path) -> None:
    series = {k: v for r in results for k, v in r.series.items() if k in PANELS}
    rows = max(1, -(-len(series) // 3))
    fig, axes = plt.subplots(rows, 3, figsize=(15, 4.25 * rows), squeeze=False)
    flat = list(axes.flat)
    for ax, (key, data) in zip(flat, series.items(), strict=False):
        PANELS[key](ax, data)
    for ax in flat[len(series) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
