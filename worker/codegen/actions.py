"""One recorded action → one statement of a block function."""

from __future__ import annotations

import ast
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from worker.codegen.nodes import attr, awaited, call, ctx_call, literal
from worker.run import ActionRecord, TaskRecord

DROPPED = frozenset({"complete", "terminate", "null_action"})
NO_LOOP: Any = object()  # the loop value of a block that does not run inside a loop


@dataclass(frozen=True)
class ActionScope:
    """What an action's statement may depend on besides the action itself."""

    credential_keys: frozenset[str]
    task: TaskRecord | None = None
    loop_value: Any = NO_LOOP


def statements(
    actions: Sequence[ActionRecord], scope: ActionScope, skipped: Counter[str],
    optional: frozenset[int] = frozenset(),
) -> list[ast.stmt]:
    """The statements replaying `actions` in order; what is left out is counted in `skipped`.
    Actions whose index is in `optional` that act on an element get `optional=True`."""
    out: list[ast.stmt] = []
    for index, action in enumerate(actions):
        handler = HANDLERS.get(action.action_type)
        if action.action_type in DROPPED:
            skipped[f"dropped:{action.action_type}"] += 1
        elif handler is None:
            skipped[f"unknown_action:{action.action_type}"] += 1
        elif action.status == "failed":
            skipped[f"failed_action:{action.action_type}"] += 1
        elif index in optional and action.action_type in OPTIONAL_TYPES and action.xpath:
            out.append(made_optional(handler(action, scope)))
        else:
            out.append(handler(action, scope))
    return out


# Actions on an element, which a script may skip when the element is absent.
OPTIONAL_TYPES = frozenset({"click", "input_text", "select_option", "upload_file", "hover",
                            "keypress", "scroll", "download_file"})


def made_optional(statement: ast.stmt) -> ast.stmt:
    """`await page.<action>(..., optional=True)`."""
    assert isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Await)
    page_call = statement.value.value
    assert isinstance(page_call, ast.Call)
    page_call.keywords.append(ast.keyword("optional", literal(True)))
    return statement


def value_of(raw: str | None, action: ActionRecord, scope: ActionScope) -> ast.expr:
    """A typed or selected value: a parameter reference, the loop's current value, or text."""
    key = action.parameter_key
    if key:
        return ctx_call("credential" if key in scope.credential_keys else "param", literal(key))
    loop_value = scope.loop_value
    in_loop = loop_value is not NO_LOOP and loop_value is not None
    if in_loop and raw is not None and raw == str(loop_value):
        return attr("ctx", "current_value")
    return literal(raw)


def page_action(method: str, action: ActionRecord, *args: ast.expr) -> ast.stmt:
    func = attr("page", method)
    return awaited(call(func, *args, intention=literal(action.intention)))


MIN_LOOP_VALUE_CHARS = 3  # shorter values match selectors by accident


def _selector(action: ActionRecord, scope: ActionScope) -> ast.expr:
    """The recorded selector; inside a loop, the iteration's value in it becomes a reference
    to the current value (an f-string), so `//a[contains(@href, 'A-1002')]` follows the loop."""
    xpath = action.xpath
    value = scope.loop_value
    text = str(value) if isinstance(value, str | int) and not isinstance(value, bool) else ""
    if xpath is None or len(text) < MIN_LOOP_VALUE_CHARS or text not in xpath:
        return literal(xpath)
    parts: list[ast.expr] = []
    for i, piece in enumerate(xpath.split(text)):
        if i:
            parts.append(ast.FormattedValue(attr("ctx", "current_value"), -1, None))
        if piece:
            parts.append(ast.Constant(piece))
    return ast.JoinedStr(parts)


def _fill(a: ActionRecord, s: ActionScope) -> ast.stmt:
    return page_action("fill", a, _selector(a, s), value_of(a.text, a, s))


def _select(a: ActionRecord, s: ActionScope) -> ast.stmt:
    return page_action("select_option", a, _selector(a, s), value_of(a.option, a, s))


def _upload(a: ActionRecord, s: ActionScope) -> ast.stmt:
    return page_action("upload_file", a, _selector(a, s), value_of(a.text, a, s))


def _goto(a: ActionRecord, s: ActionScope) -> ast.stmt:
    return page_action("goto", a, value_of(a.text, a, s))


def _press(a: ActionRecord, s: ActionScope) -> ast.stmt:
    func = attr("page", "press")
    key = value_of(a.text, a, s)
    return awaited(call(func, _selector(a, s), key=key, intention=literal(a.intention)))


def _wait(a: ActionRecord, s: ActionScope) -> ast.stmt:
    return page_action("wait", a, literal(seconds(a.text)))


def _extract(a: ActionRecord, s: ActionScope) -> ast.stmt:
    goal = s.task.data_extraction_goal if s.task else None
    schema = s.task.extracted_information_schema if s.task else None
    return page_action("extract", a, literal(goal), literal(schema))


def _selector_only(method: str) -> Callable[[ActionRecord, ActionScope], ast.stmt]:
    return lambda a, s: page_action(method, a, _selector(a, s))


def seconds(text: str | None) -> int | float | None:
    """The seconds of a recorded wait, when its text holds a finite non-negative number."""
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        return None
    if not math.isfinite(value) or value < 0:
        return None
    return int(value) if value.is_integer() else value


# action_type → how to replay it. A type missing here is skipped and counted.
HANDLERS: dict[str, Callable[[ActionRecord, ActionScope], ast.stmt]] = {
    "click": _selector_only("click"),
    "input_text": _fill,
    "select_option": _select,
    "upload_file": _upload,
    "goto_url": _goto,
    "hover": _selector_only("hover"),
    "keypress": _press,
    "scroll": _selector_only("scroll"),
    "wait": _wait,
    "extract": _extract,
    "download_file": _selector_only("download"),
    "solve_captcha": _selector_only("solve_captcha"),
}
