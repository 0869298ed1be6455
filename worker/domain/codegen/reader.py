"""An extraction's reader (ARCHITECTURE.md §12): generated from where the agent's run showed
each scalar of the block's output (block_completed.page.fields, worker/runtime/reader.py).

The block's last `extract` becomes
`ctx.outputs[label] = await page.read({key: spec or None, ...}, goal, schema, intention=...)`:
one spec per top-level key of the recorded output, in its order. A spec is the element
expected to show the value, `(tag, None, {attributes})` (its text is the value itself, so it
is not expected; the attributes are bound like an action's, worker/domain/codegen/expect.py),
its recorded `selector` (used only when the element there is the recorded one,
worker/runtime/reader.py `same_element`; else the matcher finds it), `attribute` "value" for a
form control's value, the text recorded around the value (`before`, `after`) and `number` ("int" or "float") when
the value was a number. A key the page did not show is None: the runtime asks the agent's
extractor for it. An output that is not an object, or none of whose scalars was found, keeps
`page.extract`.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from worker.domain.codegen.expect import attributes
from worker.domain.codegen.nodes import literal
from worker.domain.codegen.values import Binder, Bound, Source
from worker.domain.run import BlockRun, FieldRecord

Reads = tuple[tuple[str, FieldRecord | None], ...]


def reads_of(run: BlockRun) -> Reads:
    """The output's top-level keys with where the page showed each (None: not found); empty
    when there is nothing to read (no object output, or no field found)."""
    output, page = run.output, run.page
    if not isinstance(output, Mapping) or page is None or not page.fields:
        return ()
    placed = {f.path[0]: f for f in page.fields if len(f.path) == 1}
    reads = tuple((k, placed.get(k)) for k in output if isinstance(k, str))
    return reads if any(place is not None for _, place in reads) else ()


def reader_fields(reads: Reads, output: Any, binder: Binder) -> Bound:
    """The first argument of `page.read`: a dict of key → spec (or None)."""
    keys: list[ast.expr | None] = []
    values: list[ast.expr] = []
    used: tuple[Source, ...] = ()
    for key, place in reads:
        keys.append(literal(key))
        if place is None:
            values.append(literal(None))
            continue
        expect: list[ast.expr] = [literal(place.element.tag.lower()), literal(None)]
        bound = attributes(place.element, binder, frozenset())
        if bound is not None:
            expect.append(bound.expr)
            used += bound.used
        spec_keys: list[ast.expr | None] = [literal("expect")]
        spec_values: list[ast.expr] = [ast.Tuple(expect, ast.Load())]
        if place.xpath:
            selector = binder.for_selector().bind(place.xpath)
            spec_keys.append(literal("selector"))
            spec_values.append(selector.expr)
            used += selector.used
        value = output.get(key) if isinstance(output, Mapping) else None
        extra: dict[str, Any] = {
            "attribute": place.attribute,
            "before": place.before or None,
            "after": place.after or None,
            "number": _number_kind(value),
        }
        for name, item in extra.items():
            if item is not None:
                spec_keys.append(literal(name))
                spec_values.append(literal(item))
        values.append(ast.Dict(spec_keys, spec_values))
    return Bound(ast.Dict(keys, values), used)


def _number_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return "int"
    return "float" if isinstance(value, float) else None
