"""A replay's status from its blocks: 0 only when every block ran, 3 when blocks were left
undone for lack of an agent, 1 when the replay failed (issue 24, exit status)."""

from __future__ import annotations

import pytest

from worker.browser.journal import (
    EXIT_DONE,
    EXIT_FAILED,
    EXIT_UNDONE,
    BlockFinished,
    Outcome,
    ReplayResult,
)


def result(*outcomes: Outcome, error: str | None = None) -> ReplayResult:
    blocks = tuple(
        BlockFinished(label=f"b{i}", loop_index=None, outcome=o, duration_s=0.0)
        for i, o in enumerate(outcomes)
    )
    return ReplayResult(blocks=blocks, fallbacks=(), extracted=(), duration_s=0.0, error=error)


@pytest.mark.parametrize(
    ("outcomes", "error", "status", "undone"),
    [
        (("code", "fallback", "agent", "live"), None, EXIT_DONE, ()),
        (("code", "skipped", "code", "skipped"), None, EXIT_UNDONE, ("b1", "b3")),
        (("code", "skipped"), "block 'b2': click failed", EXIT_FAILED, ("b1",)),
        (("code", "failed"), "block 'b1': click failed", EXIT_FAILED, ()),
        ((), None, EXIT_DONE, ()),
    ],
)
def test_exit_status(
    outcomes: tuple[Outcome, ...], error: str | None, status: int, undone: tuple[str, ...]
) -> None:
    replayed = result(*outcomes, error=error)
    assert replayed.exit_status == status
    assert replayed.undone == undone
    assert replayed.done is (status == EXIT_DONE)
    as_json = replayed.as_json()
    assert (as_json["exit_status"], as_json["undone"]) == (status, list(undone))
    assert (EXIT_DONE, EXIT_FAILED, EXIT_UNDONE) == (0, 1, 3)
