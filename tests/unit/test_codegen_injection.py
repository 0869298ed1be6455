"""Whatever the recording holds, the script compiles, keeps every recorded string as a string
constant, and calls nothing but the runtime API and its own functions."""

from __future__ import annotations

import ast
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.recordings import Recorder, act, defn, param
from tests.support.examples import examples
from worker.domain.codegen import generate_script
from worker.domain.codegen.nodes import literal, source
from worker.domain.decision import executed_labels
from worker.domain.definition import RESERVED_LABELS
from worker.secrets.seals import REDACTED

PAGE_METHODS = frozenset(
    {
        "goto",
        "click",
        "fill",
        "select_option",
        "upload_file",
        "hover",
        "press",
        "scroll",
        "wait",
        "extract",
        "download",
        "solve_captcha",
    }
)
CTX_METHODS = frozenset(
    {
        "param",
        "credential",
        "render",
        "loop",
        "branch",
        "run_agent",
        "run_live",
    }
)
MODULE_NAMES = frozenset(
    {"page", "ctx", "value", "branch", "Page", "RunContext", "Any", "TypedDict", "block"}
)
ALLOWED_IMPORTS = frozenset({"worker.runtime", "typing", "asyncio"})

# What intake accepts: any text without NUL characters or lone surrogates.
text = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=40)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=10,
)


def strings_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set(value).union(*(strings_in(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(strings_in(v) for v in value))
    return set()


def record(
    labels: list[str], xpath: str, intention: str, typed: str, url: str, schema: Any, key: str
) -> Recorder:
    task, loop, child, cond, live = labels
    rec = Recorder(
        "inj",
        defn(
            [
                {"label": task, "block_type": "task", "url": url or None},
                {
                    "label": loop,
                    "block_type": "for_loop",
                    "loop_over": key,
                    "loop_blocks": [{"label": child, "block_type": "extraction"}],
                },
                {
                    "label": cond,
                    "block_type": "conditional",
                    "branches": [{"condition": None, "blocks": []}],
                },
                {"label": live, "block_type": "wait"},
            ],
            [param(key)],
        ),
        {key: ["v"]},
    )
    rec.block(
        task,
        "task",
        [
            act("click", xpath, intention),
            act("input_text", xpath, intention, text=typed),
            act("goto_url", None, intention, text=url),
            act("select_option", xpath, intention, option=typed),
            act("keypress", xpath, intention, text=typed),
            act(typed or "x", xpath, intention),  # any action type, known or not
        ],
        task={"url": url},
    )
    rec.block(
        child,
        "extraction",
        [act("extract", xpath, intention)],
        task={"data_extraction_goal": intention, "extracted_information_schema": schema},
        parent="wrb_loop",
        loop_index=0,
        loop_value="v",
    )
    rec.block(loop, "for_loop", block_id="wrb_loop")
    return rec.finish()


def check_calls(tree: ast.Module) -> None:
    own = {n.name for n in tree.body if isinstance(n, ast.AsyncFunctionDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            )
            assert set(modules) <= ALLOWED_IMPORTS
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute):
                assert isinstance(func.value, ast.Name)
                allowed = PAGE_METHODS if func.value.id == "page" else CTX_METHODS
                assert func.value.id in ("page", "ctx") and func.attr in allowed
            else:
                assert isinstance(func, ast.Name) and func.id in own | {"block", "TypedDict"}
        elif isinstance(node, ast.Attribute):
            assert isinstance(node.value, ast.Name) and node.value.id in ("page", "ctx")
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            assert node.id in own | MODULE_NAMES | {"run_workflow", "Parameters"}


@settings(max_examples=examples(1500), deadline=None)
@given(
    labels=st.lists(
        text.filter(bool).filter(lambda s: s not in RESERVED_LABELS),
        min_size=5,
        max_size=5,
        unique=True,
    ),
    xpath=text,
    intention=text,
    # A recorded "<redacted>" is the producer's redaction marker, a secret by definition
    # (ARCHITECTURE.md §9): it enters the script as a credential reference, not a constant.
    typed=text.filter(lambda s: s != REDACTED),
    url=text,
    schema=json_value,
    key=text.filter(bool),
)
def test_recorded_strings_enter_scripts_only_as_string_constants(
    labels: list[str], xpath: str, intention: str, typed: str, url: str, schema: Any, key: str
) -> None:
    run = record(labels, xpath, intention, typed, url, schema, key).run()
    script = generate_script(run, executed_labels(run), {})
    assert set(script.blocks) >= {labels[0], labels[1]}
    for path, data in script.files.items():
        compile(data, path, "exec", dont_inherit=True)
        check_calls(ast.parse(data))
    tree = ast.parse(script.files["main.py"])
    constants = {
        n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }
    expected = {*labels, xpath, intention, typed, url, key} | strings_in(schema)
    assert expected <= constants


@settings(max_examples=examples(1500), deadline=None)
@given(json_value)
def test_literal_round_trips_any_json_value_with_sorted_keys(value: Any) -> None:
    code = source(literal(value))
    assert ast.literal_eval(code) == value
    assert code == source(literal(ast.literal_eval(code)))  # key order does not matter
