"""What a replay did, block by block: outcomes, fallbacks and extracted values (pure)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Outcome = Literal["code", "fallback", "failed", "skipped", "agent", "live"]


@dataclass(frozen=True)
class FallbackRecord:
    """One action whose recorded selector did not work, handed to the fallback hook."""

    label: str | None  # the block running when it happened
    action: str  # the Page method: click, fill, select_option, ...
    selector: str | None
    intention: str | None
    error: str  # the first line of the error that caused it


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


@dataclass(frozen=True)
class ReplayResult:
    blocks: tuple[BlockFinished, ...]
    fallbacks: tuple[FallbackRecord, ...]
    extracted: tuple[tuple[str | None, int | None, Any], ...]  # (label, loop index, value)
    duration_s: float
    error: str | None = None
    exception: BaseException | None = field(default=None, compare=False, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def raise_for_error(self) -> None:
        """Re-raise what ended the replay, if anything did."""
        if self.exception is not None:
            raise self.exception

    def count(self, outcome: Outcome) -> int:
        return sum(1 for b in self.blocks if b.outcome == outcome)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "error": self.error, "duration_s": round(self.duration_s, 3),
            "blocks": [
                {"label": b.label, "loop_index": b.loop_index, "outcome": b.outcome,
                 "duration_s": round(b.duration_s, 3), "detail": b.detail}
                for b in self.blocks
            ],
            "fallbacks": [
                {"label": f.label, "action": f.action, "selector": f.selector,
                 "intention": f.intention, "error": f.error}
                for f in self.fallbacks
            ],
            "extracted": [
                {"label": label, "loop_index": index, "value": value}
                for label, index, value in self.extracted
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
    blocks: list[BlockFinished] = field(default_factory=list)
    fallbacks: list[FallbackRecord] = field(default_factory=list)
    extracted: list[tuple[str | None, int | None, Any]] = field(default_factory=list)
    _running: list[tuple[str, int | None]] = field(default_factory=list)

    @property
    def current_label(self) -> str | None:
        """The innermost cached block running now, or None between blocks."""
        return self._running[-1][0] if self._running else None

    @property
    def loop_index(self) -> int | None:
        """The loop iteration the innermost running block belongs to."""
        return self._running[-1][1] if self._running else None

    def started(self, label: str, loop_index: int | None) -> float:
        self._running.append((label, loop_index))
        self._emit(BlockStarted(label, loop_index))
        return self.clock()

    def finished(
        self, label: str, loop_index: int | None, outcome: Outcome, started_at: float,
        detail: str | None = None,
    ) -> None:
        if self._running and self._running[-1][0] == label:
            self._running.pop()
        done = BlockFinished(label, loop_index, outcome, self.clock() - started_at, detail)
        self.blocks.append(done)
        self._emit(done)

    def not_run(self, label: str, loop_index: int | None, outcome: Outcome, detail: str) -> None:
        """A block the orchestrator handed to the agent or ran live, as one event."""
        self._emit(BlockStarted(label, loop_index))
        done = BlockFinished(label, loop_index, outcome, 0.0, detail)
        self.blocks.append(done)
        self._emit(done)

    def result(self, duration_s: float, error: BaseException | None = None) -> ReplayResult:
        return ReplayResult(
            tuple(self.blocks), tuple(self.fallbacks), tuple(self.extracted), duration_s,
            None if error is None else first_line(error), error,
        )

    def _emit(self, event: BlockStarted | BlockFinished) -> None:
        if self.observer is not None:
            self.observer(event)
