"""One recorded action → one statement of a block function."""

from __future__ import annotations

import ast
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from worker.domain.codegen.expect import NOTHING_VARIES, Varying, expectation
from worker.domain.codegen.nodes import LINENO, attr, awaited, call, ctx_call, literal
from worker.domain.codegen.reader import Reads, reader_fields
from worker.domain.codegen.values import Binder, Bound, RunValues, Source
from worker.domain.inputs import InputRecord
from worker.domain.run import ActionRecord, TaskRecord
from worker.secrets.seals import REDACTED

DROPPED = frozenset({"complete", "terminate", "null_action"})
NO_LOOP: Any = object()  # the loop value of a block that does not run inside a loop


@dataclass(frozen=True)
class ActionScope:
    """What an action's statement may depend on besides the action itself.

    `binder` turns recorded values into references (worker/domain/codegen/values.py); without one,
    only the loop's current value is bound. Each value the block enters is appended to
    `inputs`, under `label`.
    """

    credential_keys: frozenset[str]
    task: TaskRecord | None = None
    loop_value: Any = NO_LOOP
    binder: Binder | None = None
    label: str = ""
    totp_keys: frozenset[str] = frozenset()
    inputs: list[InputRecord] = field(default_factory=list, compare=False)
    mentioned: frozenset[str] = frozenset()  # names the block's definition templates use
    expect: Bound | None = None  # what the action being generated expects of its element
    # The block's output and where its run showed each scalar (worker/domain/codegen/reader.py),
    # and the action_id of the extract that becomes the reader (the block's last).
    reads: Reads = ()
    output: Any = None
    reader: str | None = None

    def bind(self, raw: Any) -> Bound:
        return self._binder().bind(raw)

    def prose(self, used: Iterable[Source]) -> Binder:
        return self._binder().only(used)

    def values(self) -> Binder:
        """What the block's recorded values bind to."""
        return self._binder()

    def _binder(self) -> Binder:
        if self.binder is not None:
            return self.binder
        in_loop = self.loop_value is not NO_LOOP and self.loop_value is not None
        return RunValues({}).binder(self.loop_value, in_loop, frozenset(), {})


def statements(
    actions: Sequence[ActionRecord],
    scope: ActionScope,
    skipped: Counter[str],
    optional: frozenset[int] = frozenset(),
    varying: Varying = NOTHING_VARIES,
) -> list[ast.stmt]:
    """The statements replaying `actions` in order; what is left out is counted in `skipped`.
    Actions whose index is in `optional` that act on an element get `optional=True`; those
    recorded with their `element` get `expect=(tag, text)` (worker/domain/codegen/expect.py;
    `varying`: which elements differ between loop iterations)."""
    out: list[ast.stmt] = []
    for index, action in enumerate(actions):
        handler = HANDLERS.get(action.action_type)
        if action.action_type in DROPPED:
            skipped[f"dropped:{action.action_type}"] += 1
            continue
        if handler is None:
            skipped[f"unknown_action:{action.action_type}"] += 1
            continue
        if action.status == "failed":
            skipped[f"failed_action:{action.action_type}"] += 1
            continue
        performed = handed_over(action)
        if performed is None:
            skipped["redacted:goto_url"] += 1
            continue
        action = performed
        on_element = action.action_type in OPTIONAL_TYPES and bool(action.xpath)
        expect = expectation(action, scope.values(), varying, index) if on_element else None
        statement = handler(action, replace(scope, expect=expect) if expect else scope)
        out.append(made_optional(statement) if index in optional and on_element else statement)
    return out


def handed_over(action: ActionRecord) -> ActionRecord | None:
    """The action as a script may perform it when what was recorded of it holds a redacted
    secret (ARCHITECTURE.md §9: generated code never holds a redaction marker; the secret's
    value is not known, so that part of the action goes to the agent):

    - an action on an element whose typed value or selector holds one: no selector (the
      runtime hands the action to the agent at once) and, when the value held it, no value;
    - an intention or an extraction goal holding one: the marker is cut out (the agent reads
      the rest) or, for a goal, left out;
    - a visited url holding one: None, the visit is left out (and counted) and the next
      actions' selectors fall back to the agent on whatever page is open.
    """
    held = {
        name: getattr(action, name)
        for name in ("xpath", "text", "option", "intention")
        if REDACTED in (getattr(action, name) or "")
    }
    if not held:
        return action
    if action.action_type == "goto_url" and "text" in held:
        return None
    changes: dict[str, Any] = {}
    if "intention" in held:
        changes["intention"] = " ".join(held["intention"].replace(REDACTED, " ").split()) or None
    if action.action_type in OPTIONAL_TYPES and {"xpath", "text", "option"} & set(held):
        changes.update(xpath=None, element=None)
        changes.update({name: None for name in ("text", "option") if name in held})
    return replace(action, **changes)


# Actions on an element, which a script may skip when the element is absent.
OPTIONAL_TYPES = frozenset(
    {
        "click",
        "input_text",
        "select_option",
        "upload_file",
        "hover",
        "keypress",
        "scroll",
        "download_file",
    }
)


def made_optional(statement: ast.stmt) -> ast.stmt:
    """`await page.<action>(..., optional=True)`."""
    assert isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Await)
    page_call = statement.value.value
    assert isinstance(page_call, ast.Call)
    page_call.keywords.append(ast.keyword("optional", literal(True)))
    return statement


def value_of(raw: Any, action: ActionRecord, scope: ActionScope) -> Bound:
    """A typed or selected value: a parameter, credential or one-time code by its key, else
    bound by value (the loop's value, a parameter, an earlier output) or a literal."""
    key = action.parameter_key
    if key:
        method = (
            "totp"
            if key in scope.totp_keys
            else "credential"
            if key in scope.credential_keys
            else "param"
        )
        # The parameter's own value is what the action's intention may mention.
        same = scope.binder.named(key) if scope.binder and method == "param" else ()
        return Bound(ctx_call(method, literal(key)), same)
    bound = scope.bind(raw)
    if bound.literal and (otp := one_time_code_key(raw, action, scope)) is not None:
        return Bound(ctx_call("totp", literal(otp)))
    return bound


ONE_TIME_CODE = re.compile(r"[0-9]{6,8}")
ONE_TIME_WORDS = (
    "otp",
    "2fa",
    "mfa",
    "one-time",
    "one time",
    "verification code",
    "security code",
    "authenticator",
    "passcode",
    "code",
)


def one_time_code_key(raw: Any, action: ActionRecord, scope: ActionScope) -> str | None:
    """The totp parameter whose code a typed value is, when it was typed without
    `parameter_key`: 6 to 8 digits bound to nothing else, in a workflow with a totp
    parameter, where the block's definition mentions that parameter or the action's
    selector or intention speaks of a code. The mentioned key wins, then sorted order.
    A one-time code typed as recorded would be stale in every replay."""
    if not scope.totp_keys or not isinstance(raw, str) or not ONE_TIME_CODE.fullmatch(raw):
        return None
    key = min(scope.totp_keys, key=lambda k: (k not in scope.mentioned, k))
    hint = f"{action.xpath or ''} {action.intention or ''}".lower()
    if key in scope.mentioned or any(word in hint for word in ONE_TIME_WORDS):
        return key
    return None


def _entered(method: str, raw: Any, action: ActionRecord, scope: ActionScope) -> Bound:
    """`value_of`, remembered in `scope.inputs` (what `script show --inputs` lists)."""
    bound = value_of(raw, action, scope)
    refs = references(bound.expr)
    expression = ast.unparse(bound.expr)  # one line, whatever its length
    scope.inputs.append(InputRecord(scope.label, method, action.xpath, expression, refs))
    return bound


def references(expr: ast.expr) -> tuple[str, ...]:
    """The `ctx.…` reads in an expression (calls, `ctx.current_value…`, `ctx.outputs[…]…`)."""
    found: list[str] = []
    if isinstance(expr, ast.Constant):
        return ()
    for node in ast.walk(expr):
        call_on_ctx = isinstance(node, ast.Call) and _on_ctx(node.func)
        read_on_ctx = isinstance(node, ast.Subscript | ast.Attribute) and _on_ctx(node)
        text = ast.unparse(node) if call_on_ctx or read_on_ctx else ""
        if call_on_ctx or (read_on_ctx and not any(f.startswith(text) for f in found)):
            found.append(text)
    return tuple(dict.fromkeys(found))


def _on_ctx(node: ast.expr) -> bool:
    while isinstance(node, ast.Subscript | ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name) and node.id == "ctx"


def page_action(
    method: str, action: ActionRecord, scope: ActionScope, *args: Bound, **keywords: Bound
) -> ast.stmt:
    """`await page.<method>(*args, **keywords, intention=...)`; the intention follows the
    values the action's arguments were bound to, and nothing else."""
    expect = {} if scope.expect is None else {"expect": scope.expect}
    used = [src for bound in (*args, *keywords.values(), *expect.values()) for src in bound.used]
    intention = scope.prose(used).bind(action.intention).expr
    named = {k: v.expr for k, v in keywords.items()}
    return awaited(
        call(
            attr("page", method),
            *(a.expr for a in args),
            **named,
            intention=intention,
            **{k: v.expr for k, v in expect.items()},
        )
    )


def _selector(action: ActionRecord, scope: ActionScope) -> Bound:
    """The recorded selector with the loop's value and the parameters the block's definition
    mentions bound: inside a loop, `//a[contains(@href, 'A-1002')]` follows the loop's
    current value; `//button[@id='refund-btn']` stays as the page wrote it."""
    return scope.values().for_selector().bind(action.xpath)


def _fill(a: ActionRecord, s: ActionScope) -> ast.stmt:
    return page_action("fill", a, s, _selector(a, s), _entered("fill", a.text, a, s))


def _select(a: ActionRecord, s: ActionScope) -> ast.stmt:
    return page_action(
        "select_option", a, s, _selector(a, s), _entered("select_option", a.option, a, s)
    )


def _upload(a: ActionRecord, s: ActionScope) -> ast.stmt:
    return page_action("upload_file", a, s, _selector(a, s), _entered("upload_file", a.text, a, s))


def _goto(a: ActionRecord, s: ActionScope) -> ast.stmt:
    return page_action("goto", a, s, _entered("goto", a.text, a, s))


def _press(a: ActionRecord, s: ActionScope) -> ast.stmt:
    return page_action("press", a, s, _selector(a, s), key=_entered("press", a.text, a, s))


def _wait(a: ActionRecord, s: ActionScope) -> ast.stmt:
    return page_action("wait", a, s, Bound(literal(seconds(a.text))))


def _extract(a: ActionRecord, s: ActionScope) -> ast.stmt:
    """`ctx.outputs[label] = await page.extract(...)`: later blocks read the result. The
    goal was rendered by the platform from the definition: the values it mentions bind."""
    goal = s.task.data_extraction_goal if s.task else None
    goal = None if goal is not None and REDACTED in goal else goal  # the agent's own goal
    schema = s.task.extracted_information_schema if s.task else None
    bound_goal = s.prose(()).bind(goal) if s.binder is None else s.binder.mentioned().bind(goal)
    if s.reads and a.action_id == s.reader:
        fields = reader_fields(s.reads, s.output, s.values())
        statement = page_action("read", a, s, fields, bound_goal, Bound(literal(schema)))
    else:
        statement = page_action("extract", a, s, bound_goal, Bound(literal(schema)))
    assert isinstance(statement, ast.Expr)
    target = ast.Subscript(attr("ctx", "outputs"), literal(s.label), ast.Store())
    return ast.Assign([target], statement.value, lineno=LINENO)


def _selector_only(method: str) -> Callable[[ActionRecord, ActionScope], ast.stmt]:
    return lambda a, s: page_action(method, a, s, _selector(a, s))


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
