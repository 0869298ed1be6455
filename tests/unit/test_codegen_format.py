"""nodes.source: `ast.unparse`, with brackets too long for their line laid out one item per
line, built on public APIs only."""

from __future__ import annotations

import ast

from tests.support.services import ROOT
from worker.domain.codegen.nodes import (
    LINENO,
    attr,
    awaited,
    block_function,
    call,
    literal,
    name,
    source,
)

LONG = "x" * 70


def click(*args: ast.expr, **keywords: ast.expr) -> ast.stmt:
    return awaited(call(attr("page", "click"), *args, **keywords))


def test_a_call_that_fits_stays_on_one_line() -> None:
    statement = click(literal("//a"), intention=literal("Open"))
    assert source(statement) == "await page.click('//a', intention='Open')"


def test_a_call_too_long_gets_one_item_per_line_and_its_dict_too() -> None:
    statement = click(literal(LONG), intention=literal({"a": LONG, "b": [1, 2]}))
    assert source(statement) == (
        "await page.click(\n"
        f"    '{LONG}',\n"
        "    intention={\n"
        f"        'a': '{LONG}',\n"
        "        'b': [1, 2],\n"
        "    },\n"
        ")"
    )


def test_the_indent_of_the_statement_counts_toward_the_line_length() -> None:
    # 84 characters fit at the top level and inside run_workflow, not in an `if` in a loop.
    statement = click(literal("y" * 55), intention=literal("z" * 8))
    assert "\n" not in source(statement)
    nested = ast.If(
        name("branch"),
        [
            ast.AsyncFor(
                ast.Name("value", ast.Store()), name("values"), [statement], [], lineno=LINENO
            )
        ],
        [],
    )
    function = block_function("f", [nested], None)
    assert "    await page.click(\n" in source(function)


def test_elif_chains_keep_the_level_of_their_if() -> None:
    long_call = click(literal(LONG), intention=literal("i" * 8))
    chain = ast.If(name("a"), [ast.Pass()], [ast.If(name("b"), [long_call], [])])
    assert source(chain) == (
        "if a:\n    pass\nelif b:\n    await page.click(\n"
        f"        '{LONG}',\n        intention='iiiiiiii',\n    )"
    )


def test_recorded_text_that_spells_a_placeholder_is_kept_as_recorded() -> None:
    spelled = "_scriptcache_hole_0 _scriptcache_hole_1"
    function = block_function(
        "f",
        [
            click(literal(spelled), intention=literal(LONG)),
            click(literal(LONG), intention=literal(spelled)),
        ],
        spelled,
    )
    code = source(function)
    strings = {n.value for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Constant)}
    assert {spelled, LONG} <= strings
    assert code.count("_scriptcache_hole_") == 3 * 2


def test_nothing_inside_an_f_string_is_broken() -> None:
    formatted = ast.FormattedValue(call(attr("ctx", "param"), literal("k" * 95)), -1, None)
    statement = click(ast.JoinedStr([ast.Constant("Order "), formatted]))
    code = source(block_function("f", [statement], None))
    compile(code, "f-string", "exec", dont_inherit=True)
    assert code.count("\n") == 3  # the def line, then the call is broken, not the f-string


def test_the_formatter_uses_no_private_ast_names() -> None:
    for path in (ROOT / "worker").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "ast._" not in text, path
