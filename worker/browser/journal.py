"""What a replay did, block by block: outcomes, fallbacks and extracted values (pure).

Besides the outcomes, the journal keeps a `BlockRecord` per block, loop iteration and
task_v2 child with every action performed, in order (the script's with the selectors that
worked, the agent's with theirs), so that the run can be emitted as events
(worker/browser/emit.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Outcome = Literal["code", "fallback", "failed", "skipped", "agent", "live"]
# A replay's exit status (`scriptcache replay`, ReplayResult.exit_status): every block ran;
# the replay failed (a block failed, by name, and nothing after it ran); or it went to its end
# but blocks were left undone because no agent was plugged in to run them.
EXIT_DONE, EXIT_FAILED, EXIT_UNDONE = 0, 1, 3


@dataclass(frozen=True)
class FallbackRecord:
    """One action whose recorded selector did not work, handed to the fallback hook."""

    label: str | None  # the block running when it happened
    action: str  # the Page method: click, fill, select_option, ...
    selector: str | None
    intention: str | None
    error: str  # the first line of the error that caused it


@dataclass(frozen=True)
class Relocation:
    """One action whose recorded selector no longer designated the recorded element, done
    on that element where the runtime found it again (worker/browser/page.py `_relocate`)."""

    label: str | None
    action: str
    selector: str  # the recorded one
    xpath: str  # where the element is now
    intention: str | None


@dataclass(frozen=True)
class BlockStarted:
    label: str
    loop_index: int | None


@dataclass(frozen=True)
class BlockFinished:
    label: str
    loop_index: int | None
    outcome: Outcome
    duration_s: float
    detail: str | None = None  # why it was skipped, or the error that failed it


Observer = Callable[[BlockStarted | BlockFinished], None]
Fallback = Literal["none", "relocated", "element", "block"]


@dataclass
class BlockRecord:
    """One block (or loop iteration of a child) as it ran; `actions` are dicts in the shape
    of an event's actions items (ARCHITECTURE.md §2 and §8)."""

    label: str
    loop_index: int | None
    loop_value: Any = None
    parent: BlockRecord | None = None  # the loop or task_v2 this block ran in
    url: str | None = None  # the page's url when the block started
    executed_with: Literal["agent", "code"] = "code"
    fallback: Fallback = "none"
    status: str = "completed"
    actions: list[dict[str, Any]] = field(default_factory=list)
    extracted: list[Any] = field(default_factory=list)
    finished_at: datetime | None = None
    detail: str | None = None
    agent_calls: int = 0  # act() calls for its actions, run_block() calls for it
    # A task_v2 child (a helper of its task_v2's function): its block type as recorded;
    # None for a block of the definition (its type is the definition's).
    block_type: str | None = None
    extraction: tuple[Any, Any] | None = None  # (goal, schema) of its last page.extract
    page: dict[str, Any] | None = None  # the page when it completed: {url, title, fields}
    unread: tuple[str, ...] = ()  # fields of its reader neither the page nor an extractor gave


@dataclass(frozen=True)
class ReplayResult:
    blocks: tuple[BlockFinished, ...]
    fallbacks: tuple[FallbackRecord, ...]
    extracted: tuple[tuple[str | None, int | None, Any], ...]  # (label, loop index, value)
    duration_s: float
    error: str | None = None
    exception: BaseException | None = field(default=None, compare=False, repr=False)
    # Every block as it ran, in the order they finished (a loop after its iterations).
    records: tuple[BlockRecord, ...] = field(default=(), compare=False, repr=False)
    started_at: datetime | None = field(default=None, compare=False)
    finished_at: datetime | None = field(default=None, compare=False)
    relocations: tuple[Relocation, ...] = ()
    unread: tuple[tuple[str | None, int | None, tuple[str, ...]], ...] = ()

    def fallback_count(self) -> int:
        """Blocks whose cached code needed the agent (element or block level)."""
        return sum(1 for r in self.records if r.fallback in ("element", "block"))

    def agent_calls(self) -> int:
        """Calls of the agent: one per element fallback, one per block it ran."""
        return sum(r.agent_calls for r in self.records) if self.records else 0

    @property
    def ok(self) -> bool:
        """Nothing ended the replay early (blocks may still have been left undone)."""
        return self.error is None

    @property
    def undone(self) -> tuple[str, ...]:
        """Blocks left undone for lack of an agent (not cached yet, or run live), in order;
        a loop's child once per iteration it was skipped in."""
        return tuple(b.label for b in self.blocks if b.outcome == "skipped")

    @property
    def done(self) -> bool:
        """Every block ran (from code, relocated, or by the agent) and nothing failed."""
        return self.ok and not self.undone

    @property
    def exit_status(self) -> int:
        """The replay's exit status: 0 done, 1 failed, 3 blocks left undone for lack of an
        agent (docs/RUNTIME.md)."""
        if not self.ok:
            return EXIT_FAILED
        return EXIT_UNDONE if self.undone else EXIT_DONE

    @property
    def outputs(self) -> dict[str, Any]:
        """What each block extracted last in the replay (its `ctx.outputs[label]`)."""
        return {label: value for label, _, value in self.extracted if label is not None}

    def raise_for_error(self) -> None:
        """Re-raise what ended the replay, if anything did."""
        if self.exception is not None:
            raise self.exception

    def count(self, outcome: Outcome) -> int:
        return sum(1 for b in self.blocks if b.outcome == outcome)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "done": self.done,
            "exit_status": self.exit_status,
            "undone": list(self.undone),
            "error": self.error,
            "duration_s": round(self.duration_s, 3),
            "blocks": [
                {
                    "label": b.label,
                    "loop_index": b.loop_index,
                    "outcome": b.outcome,
                    "duration_s": round(b.duration_s, 3),
                    "detail": b.detail,
                }
                for b in self.blocks
            ],
            "fallbacks": [
                {
                    "label": f.label,
                    "action": f.action,
                    "selector": f.selector,
                    "intention": f.intention,
                    "error": f.error,
                }
                for f in self.fallbacks
            ],
            "relocations": [
                {
                    "label": r.label,
                    "action": r.action,
                    "selector": r.selector,
                    "xpath": r.xpath,
                    "intention": r.intention,
                }
                for r in self.relocations
            ],
            "extracted": [
                {"label": label, "loop_index": index, "value": value}
                for label, index, value in self.extracted
            ],
            "outputs": self.outputs,
            "unread": [
                {"label": label, "loop_index": index, "fields": list(keys)}
                for label, index, keys in self.unread
            ],
        }


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@dataclass
class Journal:
    """The mutable record a replay writes to; the page and the context share one."""

    observer: Observer | None = None
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    blocks: list[BlockFinished] = field(default_factory=list)
    fallbacks: list[FallbackRecord] = field(default_factory=list)
    relocations: list[Relocation] = field(default_factory=list)
    extracted: list[tuple[str | None, int | None, Any]] = field(default_factory=list)
    # (label, loop index, keys): fields a reader could not read and no extractor gave
    unread: list[tuple[str | None, int | None, tuple[str, ...]]] = field(default_factory=list)
    records: list[BlockRecord] = field(default_factory=list)  # in the order they finished
    _running: list[BlockRecord] = field(default_factory=list)

    @property
    def current_label(self) -> str | None:
        """The innermost cached block running now, or None between blocks."""
        return self._running[-1].label if self._running else None

    @property
    def loop_index(self) -> int | None:
        """The loop iteration the innermost running block belongs to."""
        return self._running[-1].loop_index if self._running else None

    @property
    def current(self) -> BlockRecord | None:
        """The record of the innermost block running now."""
        return self._running[-1] if self._running else None

    def started(
        self,
        label: str,
        loop_index: int | None,
        *,
        loop_value: Any = None,
        url: str | None = None,
        block_type: str | None = None,
    ) -> float:
        parent = self._running[-1] if self._running else None
        self._running.append(
            BlockRecord(label, loop_index, loop_value, parent, url, block_type=block_type)
        )
        self._emit(BlockStarted(label, loop_index))
        return self.clock()

    def finished(
        self,
        label: str,
        loop_index: int | None,
        outcome: Outcome,
        started_at: float,
        detail: str | None = None,
    ) -> None:
        if self._running and self._running[-1].label == label:
            self._close(self._running.pop(), outcome, detail)
        done = BlockFinished(label, loop_index, outcome, self.clock() - started_at, detail)
        self.blocks.append(done)
        self._emit(done)

    def not_run(self, label: str, loop_index: int | None, outcome: Outcome, detail: str) -> None:
        """A block the orchestrator handed to the agent or ran live, as one event."""
        self._emit(BlockStarted(label, loop_index))
        parent = self._running[-1] if self._running else None
        record = BlockRecord(label, loop_index, None, parent, executed_with="agent")
        self._close(record, outcome, detail)
        done = BlockFinished(label, loop_index, outcome, 0.0, detail)
        self.blocks.append(done)
        self._emit(done)

    def decided(self, label: str, loop_index: int | None, loop_value: Any, detail: str) -> None:
        """A block the runtime itself decided (a conditional): recorded for the run's
        events, not reported as a block of the replay."""
        parent = self._running[-1] if self._running else None
        self._close(BlockRecord(label, loop_index, loop_value, parent), "code", detail)

    def action(self, action: dict[str, Any]) -> None:
        """An action the running block performed (or skipped, or tried and failed)."""
        if self._running:
            self._running[-1].actions.append(action)

    def result(
        self,
        duration_s: float,
        error: BaseException | None = None,
        started_at: datetime | None = None,
    ) -> ReplayResult:
        return ReplayResult(
            tuple(self.blocks),
            tuple(self.fallbacks),
            tuple(self.extracted),
            duration_s,
            None if error is None else first_line(error),
            error,
            tuple(self.records),
            started_at,
            self.wall_clock(),
            tuple(self.relocations),
            tuple(self.unread),
        )

    def _close(self, record: BlockRecord, outcome: Outcome, detail: str | None) -> None:
        record.status = {"failed": "failed", "skipped": "skipped"}.get(outcome, "completed")
        record.detail = detail
        record.finished_at = self.wall_clock()
        self.records.append(record)

    def _emit(self, event: BlockStarted | BlockFinished) -> None:
        if self.observer is not None:
            self.observer(event)
