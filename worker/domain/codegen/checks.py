"""What a revision checks and reads, block by block, from its main.py (for `script show
--checks`): each block's outcome check (`page.expect_outcome`) and what each of its extractions
reads (`page.read`: the field, the element it is read from, the part of it), as source text."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reader:
    key: str
    element: str  # `<select name=status label='Status:'>`, or "the agent's extractor"
    part: str  # "text", "value", "number in text", ...


@dataclass(frozen=True)
class BlockChecks:
    label: str
    outcome: str | None = None  # `path='/orders', title=...`, or None: not checked
    reads: tuple[Reader, ...] = field(default=())
    extracts: int = 0  # extractions left to the extractor (`page.extract`)


def block_checks(main_py: str) -> list[BlockChecks]:
    """The blocks of a main.py (each `@block(label)` function, task_v2 helpers included) in
    file order, with their checks and readers."""
    out = []
    for node in ast.parse(main_py).body:
        label = _label(node)
        if label is None or not isinstance(node, ast.AsyncFunctionDef):
            continue
        outcome, reads, extracts = None, [], 0
        for call in ast.walk(node):
            method = _page_method(call)
            if method == "expect_outcome" and isinstance(call, ast.Call):
                outcome = ", ".join(f"{k.arg}={ast.unparse(k.value)}" for k in call.keywords)
            elif method == "read" and isinstance(call, ast.Call) and call.args:
                reads.extend(_readers(call.args[0]))
            elif method == "extract":
                extracts += 1
        out.append(BlockChecks(label, outcome, tuple(reads), extracts))
    return out


def _label(node: ast.stmt) -> str | None:
    for decorator in getattr(node, "decorator_list", ()):
        if (
            isinstance(decorator, ast.Call)
            and isinstance(decorator.func, ast.Name)
            and decorator.func.id == "block"
            and decorator.args
            and isinstance(decorator.args[0], ast.Constant)
            and isinstance(decorator.args[0].value, str)
        ):
            return decorator.args[0].value
    return None


def _page_method(node: ast.AST) -> str | None:
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "page"
    ):
        return node.func.attr
    return None


def _readers(fields: ast.expr) -> list[Reader]:
    if not isinstance(fields, ast.Dict):
        return []
    out = []
    for key, spec in zip(fields.keys, fields.values, strict=True):
        name = key.value if isinstance(key, ast.Constant) else ast.unparse(key or fields)
        if not isinstance(spec, ast.Dict):
            out.append(Reader(str(name), "the agent's extractor", "-"))
            continue
        items: dict[str, ast.expr] = {
            str(k.value): v
            for k, v in zip(spec.keys, spec.values, strict=True)
            if isinstance(k, ast.Constant)
        }
        out.append(Reader(str(name), _element(items.get("expect")), _part(items)))
    return out


def _element(expect: ast.expr | None) -> str:
    if not isinstance(expect, ast.Tuple) or not expect.elts:
        return "?"
    tag = ast.unparse(expect.elts[0]).strip("'\"")
    shown = []
    if len(expect.elts) == 3 and isinstance(expect.elts[2], ast.Dict):
        attrs = expect.elts[2]
        for k, v in zip(attrs.keys, attrs.values, strict=True):
            if isinstance(k, ast.Constant) and k.value in ("id", "name", "label", "row"):
                shown.append(f"{k.value}={ast.unparse(v)}")
    return f"<{' '.join([tag, *shown])}>"


def _part(items: dict[str, ast.expr]) -> str:
    part = "value" if "attribute" in items else "text"
    number = items.get("number")
    if isinstance(number, ast.Constant):
        part = f"{number.value!s} in {part}"
    before = items.get("before")
    if isinstance(before, ast.Constant):
        part += f" after {before.value!r}"
    return part
