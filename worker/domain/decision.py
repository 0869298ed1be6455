"""The regeneration decision and the run plan (ARCHITECTURE.md §3): pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from worker.domain.definition import CACHEABLE, CONTAINERS, Definition
from worker.domain.inputs import InputRecord
from worker.domain.run import BlockRun, RunRecord


@dataclass(frozen=True)
class Entry:
    """One `script_blocks` row of a revision, as the decision sees it."""

    label: str
    block_type: str
    run_signature: str | None
    code_sha256: str | None
    definition_sha256: str | None
    source_workflow_run_id: str | None = None
    source_workflow_run_block_id: str | None = None
    input_fields: tuple[str, ...] = ()  # the keys the block's code reads
    inputs: tuple[
        InputRecord, ...
    ] = ()  # what it enters, bound or literal (worker/domain/inputs.py)


def is_executable(entry: Entry, block_hashes: Mapping[str, str]) -> bool:
    """The one predicate: a run signature, and the definition it was made from is current."""
    return (
        entry.run_signature is not None
        and entry.definition_sha256 is not None
        and block_hashes.get(entry.label) == entry.definition_sha256
    )


def executable_labels(definition: Definition, live: Mapping[str, Entry] | None) -> frozenset[str]:
    if not live:
        return frozenset()
    hashes = definition.block_hashes()
    return frozenset(label for label, e in live.items() if is_executable(e, hashes))


def executed_labels(run: RunRecord) -> frozenset[str]:
    """Required labels whose block completed and taught something (ran with the agent)."""
    required = run.definition.required_labels()
    return frozenset(
        block.label
        for block in run.blocks
        if block.label in required and block.status == "completed" and _ran_with_agent(block)
    )


def _ran_with_agent(block: BlockRun) -> bool:
    if block.executed_with == "agent":
        return True
    if block.block_type in CONTAINERS:
        return any(
            d.block_type in CACHEABLE and d.executed_with == "agent" for d in block.descendants()
        )
    return False


def uncovered_containers(run: RunRecord) -> frozenset[str]:
    """Loops and task_v2 blocks that ran from cached code while a cacheable child ran with the
    agent without falling back (`ctx.run_agent`: a loop child seen for the first time): the
    cached code did not cover that child, so the container is regenerated like a missing
    label. A child that fell back is a repair (`repair_labels`)."""
    return frozenset(
        block.label
        for block in run.blocks
        if block.block_type in CONTAINERS
        and block.status == "completed"
        and block.executed_with == "code"
        and any(
            d.block_type in CACHEABLE and d.executed_with == "agent" and not d.fell_back
            for d in block.descendants()
        )
    )


def repair_labels(run: RunRecord) -> frozenset[str]:
    """Labels whose cached code fell back in this run (ARCHITECTURE.md §8; to the agent, or
    a moved element found again: fallback "relocated"): a
    completed cacheable block with `fallback` other than none, at top level or in a branch,
    or a completed loop or task_v2 any of whose cacheable descendants fell back (the
    container's entry covers its children, so the container is repaired). A container is
    generated from its children: one recorded without any is never repaired from this run."""
    return frozenset(
        block.label
        for block in run.blocks
        if block.block_type in CACHEABLE
        and block.status == "completed"
        and (block.block_type not in CONTAINERS or block.children)
        and (
            block.fell_back
            or (
                block.block_type in CONTAINERS
                and any(d.block_type in CACHEABLE and d.fell_back for d in block.descendants())
            )
        )
    )


REPAIR_WINDOW_S = 24 * 3600
DEFAULT_REPAIRS_PER_DAY = 10


@dataclass(frozen=True)
class RepairBudget:
    """How many repair revisions the script may still get: at most `per_day` in any 24 h;
    `used` is how many it got in the 24 h before now."""

    used: int = 0
    per_day: int = DEFAULT_REPAIRS_PER_DAY

    @property
    def spent(self) -> bool:
        return self.used >= self.per_day

    def describe(self) -> str:
        return (
            f"repair budget spent: {self.used} repair revisions of this script in the "
            f"last 24 h (SCRIPTCACHE_REPAIRS_PER_DAY={self.per_day})"
        )


@dataclass(frozen=True)
class Decision:
    regenerate: bool
    reason: str
    executed: frozenset[str]
    missing: frozenset[str]
    generate: frozenset[str]  # labels that get fresh entries from this run
    carry_forward: frozenset[str]  # executable live entries kept unchanged
    repair: frozenset[str] = frozenset()  # the labels of `generate` that are repairs
    held: str = ""  # why blocks that fell back are not repaired (the budget), or ""

    @property
    def is_repair(self) -> bool:
        """The revision counts against the script's repair budget."""
        return bool(self.repair)


def decide(
    run: RunRecord,
    live: Mapping[str, Entry] | None,
    *,
    repairs: RepairBudget = RepairBudget(),
) -> Decision:
    """Whether this run's recording should produce a new revision, and of what.

    `repairs`: the script's repair budget (ARCHITECTURE.md §8). A pinned script is not this
    function's concern: its new revisions, repairs included, are stored as candidates by
    cache.publish and never made live (§10).
    """
    executable = executable_labels(run.definition, live)
    missing = run.definition.required_labels() - executable
    executed = executed_labels(run)
    new = (executed & missing) | (uncovered_containers(run) & executable)
    broken = (repair_labels(run) & executable) - new
    held = ""  # why the broken labels are not repaired
    if broken and repairs.spent:
        held = f"{repairs.describe()}; not repaired: {_names(broken)}"
    repair = frozenset() if held else broken

    def no(reason: str) -> Decision:
        return Decision(
            False,
            reason,
            executed,
            missing,
            frozenset(),
            executable,
            held="" if run.failed else held,
        )

    def also(reason: str) -> str:
        return f"{reason}; {held}" if held else reason

    if run.failed:
        return no(f"run {run.status}: nothing is generated from it")
    if run.code_gen:
        generate = executed | broken
        reason = "the run asked for regeneration (code_gen)"
        repair = frozenset()  # asked for: not an automatic repair
    elif live is None:
        if not executed:
            return no("no cacheable block executed with the agent")
        generate, reason = executed, "no live revision yet"
    elif new or repair:
        generate = new | repair
        reasons = [f"executed blocks not covered by the cache: {_names(new)}"] if new else []
        if repair:
            reasons.append(f"repair: cached blocks fell back: {_names(repair)}")
        reason = also("; ".join(reasons))
    elif held:
        return no(held)
    elif missing:
        return no(f"missing labels did not execute in this run: {_names(missing)}")
    else:
        return no("every executed block is already cached")
    return Decision(
        True,
        reason,
        executed,
        missing,
        generate,
        executable - generate,
        repair,
        held="" if run.code_gen else held,
    )


Mode = Literal["code", "agent"]


@dataclass(frozen=True)
class RunPlan:
    mode: Mode
    blocks: dict[str, Mode]
    missing: tuple[str, ...]
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "blocks": self.blocks,
            "missing": list(self.missing),
            "reason": self.reason,
        }


def plan(definition: Definition, live: Mapping[str, Entry] | None) -> RunPlan:
    """What the platform should run: cached code where executable, the agent elsewhere."""
    executable = executable_labels(definition, live)
    blocks: dict[str, Mode] = {
        b.label: ("code" if b.label in executable and b.block_type in CACHEABLE else "agent")
        for b in definition.planned_blocks()
    }
    missing = tuple(
        b.label
        for b in definition.planned_blocks()
        if b.block_type in CACHEABLE and b.label not in executable
    )
    if live is None:
        return RunPlan(
            "agent",
            blocks,
            missing,
            f"no live revision for this cache key; not cached: {_names(missing)}",
        )
    if missing:
        return RunPlan("agent", blocks, missing, f"not cached yet: {_names(missing)}")
    return RunPlan("code", blocks, missing, "every required block is cached")


def _names(labels: frozenset[str] | tuple[str, ...]) -> str:
    return ", ".join(sorted(labels))
