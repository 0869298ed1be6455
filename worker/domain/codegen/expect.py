"""What a statement expects of its element (actions[].element, worker/runtime/identity.py).

An action recorded with the element it was performed on is generated with
`expect=(tag, text)`, or `expect=(tag, text, {attributes})` when the recording has more of it
(id, name, label, form, landmark, near, index, ...: what the runtime's matcher finds a moved
element by, worker/runtime/matcher.py), and the runtime checks that the selector still designates that
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
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from worker.domain.codegen.nodes import literal
from worker.domain.codegen.optional import iteration_key
from worker.domain.codegen.values import LOOP, Binder, Bound, Source
from worker.domain.run import ActionRecord, BlockRun, ElementRecord
from worker.runtime.identity import ATTRIBUTES, normalized
from worker.secrets.seals import REDACTED


@dataclass(frozen=True)
class Varying:
    """Indices into a run's actions whose element differs between loop iterations, and per
    index the recorded attributes (id, href, near, ...) that differ."""

    texts: frozenset[int] = frozenset()
    tags: frozenset[int] = frozenset()
    attributes: Mapping[int, frozenset[str]] = field(default_factory=dict, hash=False)


NOTHING_VARIES = Varying()
CONTEXT = frozenset({"row", "near"})  # texts beside the element, not of it


def expectation(action: ActionRecord, binder: Binder, varying: Varying, index: int) -> Bound | None:
    """`(tag, text)`, or `(tag, text, {attributes})` when the recording has more of the
    element, its texts bound by the block's binder; None when nothing is expected of it."""
    element = action.element
    if element is None or not action.xpath or not element.tag or index in varying.tags:
        return None
    text = Bound(literal(None))
    if element.text and REDACTED not in element.text:
        bound = bound_text(element.text, binder)
        if not (bound.literal and index in varying.texts):
            text = bound
    parts = [literal(element.tag.lower()), text.expr]
    varies = varying.attributes.get(index, frozenset())
    if text.used:  # an element named by the run's data: what stands beside it is data too
        varies |= {"row", "near"}
    rest = attributes(element, binder, varies)
    if rest is not None:
        parts.append(rest.expr)
    used = text.used + (rest.used if rest is not None else ())
    return Bound(ast.Tuple(parts, ast.Load()), used)


def attributes(element: ElementRecord, binder: Binder, varies: frozenset[str]) -> Bound | None:
    """The element's recorded attributes (worker/runtime/identity.py ATTRIBUTES) as a dict
    expression, keys sorted, texts bound like its text; those that differ between loop
    iterations (`varies`) and those holding a redacted secret are left out. None when none
    is left."""
    keys: list[ast.expr | None] = []
    values: list[ast.expr] = []
    used: tuple[Source, ...] = ()
    for key in sorted(set(ATTRIBUTES) & set(element.attributes) - varies):
        value = element.attributes[key]
        if REDACTED in repr(value):
            continue
        bound = _bound_value(value, binder, context=key in CONTEXT, url=key == "href")
        if bound is None:
            continue
        keys.append(literal(key))
        values.append(bound.expr)
        used += bound.used
    return Bound(ast.Dict(keys, values), used) if keys else None


def _bound_value(value: Any, binder: Binder, *, context: bool, url: bool = False) -> Bound | None:
    if isinstance(value, str):
        if url:
            value = without_run_query(value, binder)
        return _bound_attribute(value, binder) if context else bound_text(value, binder)
    if isinstance(value, bool | int):
        return Bound(literal(value))
    if isinstance(value, list):
        bound = [_bound_attribute(v, binder) for v in value if isinstance(v, str)]
        items = [b for b in bound if b is not None]
        used = tuple(u for b in items for u in b.used)
        return Bound(ast.List([b.expr for b in items], ast.Load()), used) if items else None
    if isinstance(value, Mapping):  # a form: its action bound, its field names as recorded
        action = value.get("action")
        fields = [f for f in value.get("fields") or () if isinstance(f, str)]
        if isinstance(action, str):
            action = without_run_query(action, binder)
        act = bound_text(action, binder) if isinstance(action, str) and action else None
        return Bound(
            ast.Dict(
                [literal("action"), literal("fields")],
                [literal(None) if act is None else act.expr, literal(fields)],
            ),
            () if act is None else act.used,
        )
    return None


def without_run_query(url: str, binder: Binder) -> str:
    """An address (`href`, a form's `action`) without its query string when the query, decoded,
    holds a value of the recorded run (a search filter `?q=SO-1003`, percent-encoded where no
    word boundary lets it bind): the script keeps the path, which the matcher compares alone
    when the record has no query (worker/runtime/matcher.py), rather than the recorded run's
    data."""
    path, sep, query = url.partition("?")
    if not sep:
        return url
    decoded = unquote_plus(query)
    for _ in range(2):  # a query inside a query (`?_changelist_filters=q%3DGrace%2BHopper`)
        decoded, previous = unquote_plus(decoded), decoded
        if decoded == previous:
            break
    for part in re.split(r"[&=]", decoded):
        if part and not binder.bind(part).literal:
            return path
    return url


def _bound_attribute(text: str, binder: Binder) -> Bound | None:
    """A text beside the element (`row`, an item of `near`) bound like the element's text;
    None when it holds a value of the recorded run that cannot be bound safely (a heading
    "Change order SO-1003" beside the button, when the order is a parameter the block does
    not mention): such hints are dropped rather than kept stale. The element's own
    attributes (id, name, href, form, ...) are bound like its text and otherwise kept: an
    accidental match ("refund" in "/refunds") must not cost the matcher its best evidence."""
    if not text:
        return None
    bound = bound_text(text, binder)
    if not bound.literal or binder.bind(text).literal:
        return bound
    return None


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
    an element of another tag, another text, or other attributes."""
    completed = [
        o for o in others if o is not run and o.status == "completed" and o.loop_index is not None
    ]
    if run.loop_index is None or not completed:
        return Varying()
    seen: dict[tuple[str, str | None], list[ElementRecord]] = {}
    for other in completed:
        for a in other.actions:
            if a.element is not None and a.status not in ("failed", "skipped"):
                seen.setdefault(iteration_key(a, other.loop_value), []).append(a.element)
    texts, tags = set(), set()
    attrs: dict[int, frozenset[str]] = {}
    for i, a in enumerate(run.actions):
        if a.element is None:
            continue
        for other_element in seen.get(iteration_key(a, run.loop_value), ()):
            if other_element.tag.lower() != a.element.tag.lower():
                tags.add(i)
            elif normalized(other_element.text) != normalized(a.element.text):
                texts.add(i)
            differ = {
                k
                for k in set(a.element.attributes) | set(other_element.attributes)
                if a.element.attributes.get(k) != other_element.attributes.get(k)
            }
            if differ:
                attrs[i] = attrs.get(i, frozenset()) | frozenset(differ)
    return Varying(frozenset(texts), frozenset(tags), attrs)
