"""Which recorded actions a script performs only when their element is there (ARCHITECTURE.md
§8): `optional=True`, so the runtime waits briefly and goes on without the agent.

- an action recorded as skipped (the agent judged it unnecessary, or the script's own
  optional action found nothing);
- the agent's preconditions: the actions it performed after a failed action of the script
  and before the one that replaced it (a banner or dialog closed once need not be there
  next time);
- inside a loop, an action of the richest iteration that another completed iteration of the
  same child did not perform.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence

from worker.domain.codegen.values import RunValues
from worker.domain.run import ActionRecord, BlockRun


def optional_actions(run: BlockRun, others: Sequence[BlockRun] = ()) -> frozenset[int]:
    """Indices into `run.actions` to generate with optional=True. `others`: the other
    recorded iterations of the same loop child (ignored outside a loop)."""
    actions = run.actions
    optional = {i for i, a in enumerate(actions) if a.skipped}
    optional |= preconditions(actions)
    if run.loop_index is not None:
        optional |= not_in_every_iteration(run, others)
    return frozenset(optional)


def preconditions(actions: Sequence[ActionRecord]) -> set[int]:
    """Agent actions after a failed script action, except the last of that run of agent
    actions (which replaced the failed one)."""
    found: set[int] = set()
    group: list[int] = []
    after_failure = False
    for i, action in enumerate(actions):
        if action.source == "agent" and after_failure and not action.skipped:
            group.append(i)
            continue
        found.update(group[:-1])
        group = []
        after_failure = action.source == "code" and action.status == "failed"
    found.update(group[:-1])
    return found


def not_in_every_iteration(run: BlockRun, others: Sequence[BlockRun]) -> set[int]:
    completed = [
        o for o in others if o is not run and o.status == "completed" and o.loop_index is not None
    ]
    if not completed:
        return set()
    seen = [{iteration_key(a, o.loop_value) for a in _performed(o.actions)} for o in completed]
    return {
        i
        for i, a in enumerate(run.actions)
        if a.status != "failed" and not all(iteration_key(a, run.loop_value) in s for s in seen)
    }


def _performed(actions: Sequence[ActionRecord]) -> list[ActionRecord]:
    return [a for a in actions if a.status not in ("failed", "skipped")]


def iteration_key(action: ActionRecord, loop_value: object) -> tuple[str, str | None]:
    """The action as iterations compare it: its type and selector, the iteration's own value
    in the selector written as a placeholder (each iteration's own: a short value only
    makes two iterations' keys equal, never the script follow it). A selector holding a
    field of an object value is compared as the script binds it (worker/domain/codegen/values.py)."""
    xpath = action.xpath
    if xpath is not None and loop_value is not None:
        bound = RunValues({}).binder(loop_value, True, frozenset(), {}).bind(xpath)
        if not bound.literal:
            return action.action_type, "\x00" + ast.unparse(bound.expr)
    text = str(loop_value) if isinstance(loop_value, str | int) else ""
    if xpath is not None and text:
        xpath = xpath.replace(text, "\x00")
    return action.action_type, xpath
