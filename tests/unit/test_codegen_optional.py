"""Which actions are generated with optional=True (worker/domain/codegen/optional.py), from tables."""

from __future__ import annotations

from collections import Counter

import pytest

from worker.domain.codegen.actions import ActionScope, statements
from worker.domain.codegen.nodes import source
from worker.domain.codegen.optional import optional_actions
from worker.domain.run import ActionRecord, BlockRun


def act(
    xpath: str, status: str = "completed", source: str | None = None, kind: str = "click"
) -> ActionRecord:
    return ActionRecord(
        action_id=xpath,
        action_type=kind,
        xpath=xpath,
        intention=xpath,
        status=status,
        source=source,
    )


def run(
    *actions: ActionRecord,
    index: int | None = None,
    value: str | None = None,
    status: str = "completed",
) -> BlockRun:
    return BlockRun(
        f"wrb_{index}",
        "open",
        "navigation",
        status,
        "code",
        loop_index=index,
        loop_value=value,
        actions=actions,
    )


CODE, AGENT = "code", "agent"
CASES = [
    pytest.param(run(act("a"), act("b")), (), set(), id="a plain recording has none"),
    pytest.param(
        run(act("a", "skipped", AGENT), act("b")),
        (),
        {0},
        id="an action the agent skipped as unnecessary",
    ),
    pytest.param(
        run(act("a", "skipped", CODE), act("b")),
        (),
        {0},
        id="an optional action the script found absent stays optional",
    ),
    pytest.param(
        run(
            act("a"),
            act("b", "failed", CODE),
            act("banner", source=AGENT),
            act("b2", source=AGENT),
            act("c", source=CODE),
        ),
        (),
        {2},
        id="the agent's precondition before its replacement",
    ),
    pytest.param(
        run(
            act("b", "failed", CODE),
            act("x", source=AGENT),
            act("y", source=AGENT),
            act("b2", source=AGENT),
            act("c", "failed", CODE),
            act("c2", source=AGENT),
        ),
        (),
        {1, 2},
        id="each failed action starts its own group; a lone replacement is required",
    ),
    pytest.param(
        run(act("x", source=AGENT), act("y", source=AGENT)),
        (),
        set(),
        id="agent actions without a failed action before them (a block fallback)",
    ),
    pytest.param(
        run(act("banner"), act("//a[text()='A-1']"), index=0, value="A-1"),
        (run(act("//a[text()='A-2']"), index=1, value="A-2"),),
        {0},
        id="a loop action another iteration did not perform",
    ),
    pytest.param(
        run(act("banner"), act("go"), index=0, value="A-1"),
        (run(act("go"), index=1, value="A-2", status="failed"),),
        set(),
        id="iterations that did not complete do not count",
    ),
    pytest.param(
        run(act("banner"), act("go"), index=0, value="A-1"),
        (run(act("banner"), act("go"), index=1, value="A-2"),),
        set(),
        id="an action every iteration performed is required",
    ),
    pytest.param(
        run(act("banner"), act("go")),
        (run(act("go")),),
        set(),
        id="outside a loop the other runs do not count",
    ),
]


@pytest.mark.parametrize(("record", "others", "expected"), CASES)
def test_optional_actions(
    record: BlockRun, others: tuple[BlockRun, ...], expected: set[int]
) -> None:
    assert optional_actions(record, (record, *others)) == expected


def test_optional_actions_get_the_keyword_and_failed_attempts_are_left_out() -> None:
    record = run(
        act("//b", "failed", CODE),
        act("//banner", source=AGENT),
        act("//b2", source=AGENT),
        act("//q", "skipped", AGENT, kind="input_text"),
    )
    skipped: Counter[str] = Counter()

    code = [
        source(s)
        for s in statements(
            record.actions, ActionScope(frozenset()), skipped, optional_actions(record)
        )
    ]

    assert code == [
        "await page.click('//banner', intention='//banner', optional=True)",
        "await page.click('//b2', intention='//b2')",
        "await page.fill('//q', None, intention='//q', optional=True)",
    ]
    assert skipped == {"failed_action:click": 1}
