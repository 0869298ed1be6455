"""Extraction readers (ARCHITECTURE.md §12): which scalars are looked for, how a text becomes a
field's value (worker/runtime/reader.py), and the reader generated from the places
(worker/domain/codegen/reader.py), from tables."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from worker.domain.codegen.actions import statements
from worker.domain.codegen.blocks import Generation
from worker.domain.codegen.nodes import source
from worker.domain.codegen.reader import reads_of
from worker.domain.run import ActionRecord, BlockRun, ElementRecord, FieldRecord, PageRecord
from worker.runtime.reader import value_of, wanted


@pytest.mark.parametrize(
    ("text", "spec", "value"),
    [
        ("shipped", {}, "shipped"),
        ("EUR 129.90", {"before": "EUR ", "number": "float"}, 129.9),
        ("Total: 1,204 items", {"before": "Total: ", "number": "int"}, 1204),
        ("Status: open (3 days)", {"before": "Status: ", "after": " (3 days)"}, "open"),
        ("Status: open (4 days)", {"before": "Status: ", "after": " (3 days)"}, "open (4 days)"),
        ("no number here", {"number": "float"}, None),
        ("   ", {}, None),
        (None, {}, None),
    ],
)
def test_a_text_becomes_the_fields_value(
    text: str | None, spec: dict[str, Any], value: Any
) -> None:
    assert value_of(text, spec) == value


def test_only_top_level_strings_and_numbers_are_looked_for() -> None:
    found = wanted({"id": "SO-1", "total": 12.5, "paid": True, "items": [1], "note": "  ", 3: "x"})
    assert found == [
        {"key": "id", "text": "SO-1", "number": None},
        {"key": "total", "text": "12.5", "number": 12.5},
    ]
    assert wanted(["a"]) == [] and wanted(None) == []


def dd(id_: str, near: list[str]) -> ElementRecord:
    return ElementRecord("dd", None, {"id": id_, "near": near, "index": 0})


def extraction(page: PageRecord | None, output: Any, loop_value: Any = None) -> BlockRun:
    return BlockRun(
        "wrb_1",
        "read_order",
        "extraction",
        "completed",
        "agent",
        loop_index=None if loop_value is None else 0,
        loop_value=loop_value,
        actions=(ActionRecord("a1", "extract", intention="Read the status and total"),),
        output=output,
        page=page,
    )


def code(run: BlockRun) -> str:
    gen = Generation(frozenset())
    scope = gen.scope(run, run.loop_value, None)
    return "\n".join(source(s) for s in statements(run.actions, scope, Counter()))


def test_the_last_extract_becomes_a_reader_with_its_loop_value_bound() -> None:
    page = PageRecord(
        "http://s/orders/A-1",
        "Order A-1",
        (
            FieldRecord(("status",), dd("status", ["Order A-1", "Status"]), "//dd[1]"),
            FieldRecord(("total",), dd("total", ["Total"]), "//dd[2]", before="EUR "),
        ),
    )
    found = code(extraction(page, {"status": "shipped", "total": 1.5, "note": "x"}, "A-1"))
    assert found.startswith("ctx.outputs['read_order'] = await page.read(")
    assert "'near': [f'Order {ctx.current_value}', 'Status']" in found
    assert "'before': 'EUR '" in found and "'number': 'float'" in found
    assert "'note': None" in found  # not on the page: the extractor's


def test_no_place_found_or_no_object_output_keeps_the_extractor() -> None:
    empty = PageRecord("http://s/a", "A")
    assert "page.extract(" in code(extraction(empty, {"status": "shipped"}))
    placed = PageRecord("http://s/a", "A", (FieldRecord(("x",), dd("x", [])),))
    assert "page.extract(" in code(extraction(placed, ["shipped"]))
    assert reads_of(extraction(placed, {"status": "shipped"})) == ()  # x is not a key
