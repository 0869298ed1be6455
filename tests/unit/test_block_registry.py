"""One block-type registry: definition.BLOCK_TYPES says what a type is, codegen GENERATORS
how a cacheable kind is generated, and neither can get ahead of the other: every cacheable
type gets both a script_blocks row and its code, every other type neither."""

from __future__ import annotations

import ast
from typing import Any

import pytest

from worker.domain.codegen import generate_script
from worker.domain.codegen.blocks import GENERATORS
from worker.domain.decision import executed_labels
from worker.domain.definition import (
    BLOCK_TYPES,
    CACHEABLE,
    CACHEABLE_KINDS,
    CONTAINERS,
    START_BLOCK,
    Definition,
    kind_of,
)
from worker.domain.run import ActionRecord, BlockRun, RunRecord, TaskRecord

CHILD = {"label": "child", "block_type": "task", "url": "https://app.test/child"}


def test_every_cacheable_kind_has_a_generator_and_no_other_kind_has_one() -> None:
    assert set(GENERATORS) == CACHEABLE_KINDS
    assert {kind_of(t) for t in CACHEABLE} == CACHEABLE_KINDS


def block_definition(block_type: str) -> dict[str, Any]:
    block: dict[str, Any] = {"label": "only", "block_type": block_type}
    if block_type == "for_loop":
        block.update(loop_over="items", loop_blocks=[CHILD])
    elif block_type == "while_loop":
        block.update(condition="{{ more }}", loop_blocks=[CHILD])
    elif block_type == "conditional":
        block["branches"] = [{"condition": "{{ yes }}", "blocks": []}]
    else:
        block["url"] = "https://app.test/only"
    return block


def one_block_run(block_type: str) -> RunRecord:
    definition = Definition.model_validate(
        {
            "title": "registry",
            "parameters": [{"key": "items", "parameter_type": "workflow"}],
            "blocks": [block_definition(block_type)],
        }
    )
    click = (ActionRecord("a1", "click", "//button", "Press it"),)
    child = BlockRun(
        "wrb_child",
        "child",
        "task",
        "completed",
        "agent",
        parent_workflow_run_block_id="wrb_only",
        loop_index=0,
        loop_value="x",
        task=TaskRecord("t_child", url="https://app.test/child"),
        actions=click,
    )
    container = block_type in CONTAINERS
    only = BlockRun(
        "wrb_only",
        "only",
        block_type,
        "completed",
        "agent",
        task=None if container else TaskRecord("t_only", url="https://app.test/only"),
        actions=() if container else click,
        children=(child,) if container else (),
    )
    return RunRecord(
        "wr_registry", "wpid_registry", 1, definition, {"items": ["x"]}, blocks=(only,)
    )


@pytest.mark.parametrize("block_type", sorted(BLOCK_TYPES))
def test_a_type_has_a_cache_row_exactly_when_the_script_has_its_code(block_type: str) -> None:
    run = one_block_run(block_type)
    script = generate_script(run, executed_labels(run) & {"only"}, {})
    main = ast.parse(script.files["main.py"])
    functions = {n.name: n for n in main.body if isinstance(n, ast.AsyncFunctionDef)}
    orchestrated = [ast.dump(statement) for statement in functions.pop("run_workflow").body]
    if block_type in CACHEABLE:
        statement = ast.parse(script.blocks["only"].run_signature or "").body[0]
        assert ast.dump(statement) in orchestrated  # run_workflow runs the cached block ...
        called = {
            n.func.id
            for n in ast.walk(statement)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        }
        assert called and called <= set(functions)  # ... through functions main.py defines
    else:
        assert set(script.blocks) == {START_BLOCK}
        assert not functions
        if block_type != "conditional":
            assert orchestrated == [ast.dump(ast.parse("await ctx.run_live('only')").body[0])]
