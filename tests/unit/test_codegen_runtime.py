"""The runtime API generated scripts import: block registry, in-memory context and page."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from worker.runtime import Call, InMemoryRunContext, RecordingPage, blocks_of


def test_block_registers_functions_per_module_namespace() -> None:
    namespace: dict[str, Any] = {}
    exec(
        "from worker.runtime import block\n@block('sign in')\nasync def sign_in(page, ctx): pass\n",
        namespace,
    )
    assert list(blocks_of(namespace)) == ["sign in"]
    assert namespace["sign_in"].__block_label__ == "sign in"
    assert blocks_of({}) == {}


def test_one_label_cannot_name_two_functions_in_one_module() -> None:
    namespace: dict[str, Any] = {}
    source = (
        "from worker.runtime import block\n@block('x')\nasync def a(page, ctx): pass\n"
        "@block('x')\nasync def b(page, ctx): pass\n"
    )
    with pytest.raises(ValueError, match="registered twice"):
        exec(source, namespace)


def test_nested_loops_set_and_restore_the_current_value_and_index() -> None:
    ctx = InMemoryRunContext(RecordingPage(), loop_values={"inner": ["x", "y"]})
    seen: list[tuple[Any, int | None]] = []

    async def body() -> None:
        async for _ in ctx.loop("outer", ["a", "b"]):
            async for _ in ctx.loop("inner", None):
                seen.append((ctx.current_value, ctx.current_index))
            seen.append((ctx.current_value, ctx.current_index))

    asyncio.run(body())
    assert seen == [("x", 0), ("y", 1), ("a", 0), ("x", 0), ("y", 1), ("b", 1)]
    assert (ctx.current_value, ctx.current_index) == (None, None)


def test_missing_values_and_branches_fail_loudly() -> None:
    ctx = InMemoryRunContext(RecordingPage(), {"a": 1}, {"pw": "s"}, {"route": 1})
    assert (ctx.param("a"), ctx.credential("pw")) == (1, "s")
    assert asyncio.run(ctx.branch("route")) == 1
    with pytest.raises(LookupError, match="'b'"):
        ctx.param("b")
    with pytest.raises(LookupError, match="credential 'a'"):
        ctx.credential("a")
    with pytest.raises(LookupError, match="'other'"):
        asyncio.run(ctx.branch("other"))


def test_render_fills_a_template_from_parameters_and_the_current_value() -> None:
    ctx = InMemoryRunContext(RecordingPage(), {"host": "shop.test"})
    ctx.current_value = "A-1"
    assert ctx.render("https://{{ host }}/orders/{{ current_value }}") == (
        "https://shop.test/orders/A-1"
    )


def test_recording_page_remembers_calls_and_answers_extractions() -> None:
    page = RecordingPage(extracted={"Total": 42})

    async def drive() -> Any:
        await page.press("//input", "Enter", intention="submit")
        return await page.extract("Total", {"type": "number"}, intention=None)

    assert asyncio.run(drive()) == 42
    assert page.calls == [
        Call("press", ("//input", "Enter"), "submit"),
        Call("extract", ("Total", {"type": "number"}), None),
    ]
