"""for_loop / while_loop blocks: one `async for` run signature over the runtime's loop helper."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.recordings import Recorder, act, defn, param, runs_from_jsonl, sample_runs
from tests.support.examples import examples
from worker.domain.codegen import GeneratedScript, generate_script
from worker.domain.codegen.actions import ActionScope, _selector
from worker.domain.decision import executed_labels
from worker.domain.run import ActionRecord

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def generated(name: str) -> GeneratedScript:
    run = runs_from_jsonl(GOLDEN / f"{name}.jsonl")[0]
    return generate_script(run, executed_labels(run), {})


def sample_script() -> GeneratedScript:
    run = sample_runs()[0]
    return generate_script(run, executed_labels(run), {})


def signature(script: GeneratedScript, label: str) -> ast.AsyncFor:
    text = script.blocks[label].run_signature
    assert text is not None
    statements = ast.parse(text).body
    assert len(statements) == 1 and isinstance(statements[0], ast.AsyncFor)
    return statements[0]


def called(node: ast.AST) -> list[str]:
    return [
        n.func.id
        for n in ast.walk(node)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    ]


def test_the_loop_run_signature_is_one_async_for_over_ctx_loop_of_the_loop_over_parameter() -> None:
    loop = signature(sample_script(), "each_order")
    assert ast.unparse(loop.iter) == "ctx.loop('each_order', ctx.param('order_numbers'))"
    assert called(loop) == ["open_order", "read_order"]


def test_the_loop_statement_lives_only_in_run_workflow_and_its_file_holds_the_children() -> None:
    script = sample_script()
    block_file = ast.parse(script.files["blocks/each_order.py"])
    assert not any(isinstance(n, ast.AsyncFor) for n in ast.walk(block_file))
    assert [n.name for n in block_file.body if isinstance(n, ast.AsyncFunctionDef)] == [
        "open_order",
        "read_order",
    ]
    main = ast.parse(script.files["main.py"])
    assert not any(isinstance(n, ast.AsyncFor) for n in main.body)
    workflow = next(
        n for n in main.body if isinstance(n, ast.AsyncFunctionDef) and n.name == "run_workflow"
    )
    assert sum(isinstance(n, ast.AsyncFor) for n in ast.walk(workflow)) == 1
    assert set(script.blocks) == {"__start_block__", "sign_in", "each_order", "request_refund"}
    assert script.blocks["each_order"].input_fields == ("order_numbers",)


def test_children_come_from_their_richest_iteration_and_type_the_current_value() -> None:
    text = sample_script().files["blocks/each_order.py"].decode()
    assert "Dismiss cookie banner" in text  # only iteration 1 (4 actions) had it
    fills = [
        n
        for n in ast.walk(ast.parse(text))
        if isinstance(n, ast.Call) and ast.unparse(n.func) == "page.fill"
    ]
    assert [ast.unparse(f.args[1]) for f in fills] == ["ctx.current_value"]


def test_a_nested_loop_nests_its_async_for_and_its_file_holds_every_descendant() -> None:
    script = generated("nested_loop")
    outer = signature(script, "each_region")
    inner = [n for n in outer.body if isinstance(n, ast.AsyncFor)]
    assert len(inner) == 1
    assert ast.unparse(inner[0].iter) == "ctx.loop('each_store', ctx.param('stores'))"
    assert called(inner[0]) == ["read_store"]
    names = {
        n.name
        for n in ast.parse(script.files["blocks/each_region.py"]).body
        if isinstance(n, ast.AsyncFunctionDef)
    }
    assert names == {"open_region", "read_store"}
    assert set(script.blocks) == {"__start_block__", "each_region"}
    assert script.blocks["each_region"].input_fields == ("regions", "stores")


def test_a_while_loop_lets_the_runtime_decide_and_a_child_never_seen_goes_to_the_agent() -> None:
    loop = signature(generated("while_loop"), "until_last_page")
    assert ast.unparse(loop.iter) == "ctx.loop('until_last_page', None)"
    assert ast.unparse(loop.body[-1]) == "await ctx.run_agent('archive_page')"


def test_a_completed_iteration_beats_a_richer_failed_one() -> None:
    rec = Recorder(
        "rich",
        defn(
            [
                {
                    "label": "each",
                    "block_type": "for_loop",
                    "loop_over": "items",
                    "loop_blocks": [{"label": "step", "block_type": "task"}],
                }
            ],
            [param("items")],
        ),
    )
    rec.block(
        "step",
        "task",
        [act("click", f"//b[{i}]", "Try") for i in range(3)],
        task={},
        parent="wrb_l",
        loop_index=0,
        loop_value="a",
        status="failed",
    )
    rec.block(
        "step",
        "task",
        [act("click", "//b[@id='ok']", "Works")],
        task={},
        parent="wrb_l",
        loop_index=1,
        loop_value="b",
    )
    rec.block("each", "for_loop", block_id="wrb_l")
    script = generate_script(rec.finish().run(), frozenset({"each"}), {})
    text = script.files["blocks/each.py"].decode()
    assert "//b[@id='ok']" in text and "//b[0]" not in text


def test_the_iteration_value_inside_a_recorded_selector_follows_the_loop() -> None:
    main = sample_script().files["main.py"].decode()
    assert "f\"//a[contains(@href, '/orders/{ctx.current_value}')]\"" in main
    assert "A-1002" not in main


@settings(max_examples=examples(300), deadline=None)
@given(
    before=st.text(max_size=30), after=st.text(max_size=30), value=st.text(min_size=3, max_size=12)
)
def test_a_selector_with_the_loop_value_evaluates_back_to_the_recording(
    before: str,
    after: str,
    value: str,
) -> None:
    xpath = before + value + after
    node = _selector(
        ActionRecord("a1", "click", xpath=xpath), ActionScope(frozenset(), loop_value=value)
    ).expr
    source = ast.unparse(ast.fix_missing_locations(ast.Expression(node)))
    ctx = SimpleNamespace(current_value=value)
    assert eval(compile(source, "<selector>", "eval"), {"ctx": ctx}) == xpath
    other = SimpleNamespace(current_value="#OTHER#")
    # The value binds at word boundaries only: never as part of a longer word.
    joined = any(
        re.fullmatch(r"\w\w", pair) for pair in (before[-1:] + value[:1], value[-1:] + after[:1])
    )
    if value not in before + after and not joined:
        rendered = eval(compile(source, "<selector>", "eval"), {"ctx": other})
        assert "#OTHER#" in rendered
