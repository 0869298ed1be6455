"""What a statement expects of its element (actions[].element, worker/runtime/identity.py).

An action recorded with the element it was performed on is generated with
`expect=(tag, text)`, and the runtime checks that the selector still designates that
element before acting: a positional xpath that now points at another element of the same
tag falls back instead of clicking or typing into the wrong one.

The text is bound like a typed value (worker/domain/codegen/values.py): a link whose text is the
loop's current value, a parameter or an earlier block's output follows the run, never the
recorded literal (a value inside a longer text binds only when it is the loop's or the
block's definition mentions it: `bound_text`). Inside a loop, an element whose text differs
between the recorded iterations and is not bound is expected by its tag only; one whose tag
differs is not expected at all. A text holding a redacted secret is left out. Actions
recorded without `element` are generated exactly as before.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass

from worker.domain.codegen.nodes import literal
from worker.domain.codegen.optional import iteration_key
from worker.domain.codegen.values import LOOP, Binder, Bound
from worker.domain.run import ActionRecord, BlockRun
from worker.runtime.identity import normalized
from worker.secrets.seals import REDACTED


@dataclass(frozen=True)
class Varying:
    """Indices into a run's actions whose element differs between loop iterations."""

    texts: frozenset[int] = frozenset()
    tags: frozenset[int] = frozenset()


NOTHING_VARIES = Varying()


def expectation(action: ActionRecord, binder: Binder, varying: Varying, index: int) -> Bound | None:
    """`(tag, text)` for the action at `index`, its text bound by the block's binder, or
    None when nothing is expected of it."""
    element = action.element
    if element is None or not action.xpath or not element.tag or index in varying.tags:
        return None
    text = Bound(literal(None))
    if element.text and REDACTED not in element.text:
        bound = bound_text(element.text, binder)
        if not (bound.literal and index in varying.texts):
            text = bound
    return Bound(ast.Tuple([literal(element.tag.lower()), text.expr], ast.Load()), text.used)


def bound_text(text: str, binder: Binder) -> Bound:
    """An element's text as code. A text that IS a value of the run (the loop's value, a
    parameter, an earlier output) binds to it; a value only contained in the text binds
    when it is the loop's value or one the block's definition mentions: an element's text
    is the site's prose ("Request refund"), which a parameter ("refund") matches by
    accident more often than a typed value does."""
    bound = binder.bind(text)
    if bound.literal or (len(bound.used) == 1 and bound.used[0].text == text):
        return bound
    return binder.within(lambda src: src.group == LOOP or src.mentioned).bind(text)


def varying(run: BlockRun, others: Sequence[BlockRun] = ()) -> Varying:
    """Which of `run`'s elements differ in another completed iteration of the same loop
    child: the same action (type and selector, the iteration's value as a placeholder) on
    an element of another tag or another text."""
    completed = [
        o for o in others if o is not run and o.status == "completed" and o.loop_index is not None
    ]
    if run.loop_index is None or not completed:
        return Varying()
    seen: dict[tuple[str, str | None], set[tuple[str, str]]] = {}
    for other in completed:
        for a in other.actions:
            if a.element is not None and a.status not in ("failed", "skipped"):
                seen.setdefault(iteration_key(a, other.loop_value), set()).add(
                    (a.element.tag.lower(), normalized(a.element.text))
                )
    texts, tags = set(), set()
    for i, a in enumerate(run.actions):
        if a.element is None:
            continue
        for tag, text in seen.get(iteration_key(a, run.loop_value), ()):
            if tag != a.element.tag.lower():
                tags.add(i)
            elif text != normalized(a.element.text):
                texts.add(i)
    return Varying(frozenset(texts), frozenset(tags))
