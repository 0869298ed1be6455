"""The only two doors into a generated tree: `literal()` for values, `identifier()` for names.

Recorded text never becomes source by pasting; it becomes an `ast.Constant` here, and
`ast.unparse` writes it as a correctly escaped literal.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import keyword
import re
import unicodedata
from functools import lru_cache
from typing import Any

# Names a generated module binds itself; a block function must never shadow them.
MODULE_NAMES = frozenset(
    {
        "page",
        "ctx",
        "block",
        "branch",
        "value",
        "run_workflow",
        "Parameters",
        "Page",
        "RunContext",
        "TypedDict",
        "Any",
    }
)
RESERVED = (
    frozenset(keyword.kwlist)
    | frozenset(keyword.softkwlist)
    | frozenset(dir(builtins))
    | MODULE_NAMES
)
MAX_STEM_CHARS = 48
_HASH_CHARS = 8
_HASHED = re.compile(rf"_[0-9a-f]{{{_HASH_CHARS}}}$")
_NOT_NAME = re.compile(r"[^a-z0-9_]+")


# ast.unparse reads `lineno` of function, loop and assignment nodes (for type comments).
LINENO = 1


def literal(value: Any) -> ast.expr:
    """A recorded value as an expression tree: JSON-like values only, dict keys sorted."""
    if value is None or isinstance(value, bool | int | float | str):
        return ast.Constant(value)
    if isinstance(value, list | tuple):
        return ast.List([literal(item) for item in value], ast.Load())
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise TypeError("literal(): object keys must be strings")
        items = sorted(value.items())
        return ast.Dict([ast.Constant(k) for k, _ in items], [literal(v) for _, v in items])
    raise TypeError(f"literal(): cannot emit a {type(value).__name__}")


@lru_cache(maxsize=65536)
def identifier(label: str) -> str:
    """A valid, deterministic Python name for `label`, distinct from every other label's.

    A label that is already a plain lowercase ASCII name, not reserved, is used as is.
    Any other label is sanitised and suffixed with a hash of the original, so `a-b` and
    `a_b` differ. Unchanged names never end in `_<8 hex>`, hashed ones always do: the
    mapping cannot send two labels to one name short of a hash collision. Names are
    lowercase ASCII, so `blocks/<name>.py` files differ on case-insensitive filesystems too.
    """
    ascii_label = unicodedata.normalize("NFKD", label).encode("ascii", "ignore").decode()
    stem = re.sub("_+", "_", _NOT_NAME.sub("_", ascii_label.lower())).strip("_") or "block"
    if stem[0].isdigit():
        stem = f"block_{stem}"
    stem = stem[:MAX_STEM_CHARS].rstrip("_")
    if stem == label and stem not in RESERVED and not _HASHED.search(stem):
        return stem
    digest = hashlib.sha256(label.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{stem}_{digest[:_HASH_CHARS]}"


def name(ident: str) -> ast.Name:
    return ast.Name(ident, ast.Load())


def attr(owner: str, member: str) -> ast.Attribute:
    return ast.Attribute(name(owner), member, ast.Load())


def call(func: ast.expr, *args: ast.expr, **keywords: ast.expr) -> ast.Call:
    return ast.Call(func, list(args), [ast.keyword(k, v) for k, v in keywords.items()])


def awaited(expr: ast.expr) -> ast.stmt:
    return ast.Expr(ast.Await(expr))


def ctx_call(method: str, *args: ast.expr) -> ast.Call:
    return call(attr("ctx", method), *args)


def call_block(function_name: str) -> ast.stmt:
    """`await <function>(page, ctx)`: how every generated block function is run."""
    return awaited(call(name(function_name), name("page"), name("ctx")))


def block_function(
    function_name: str,
    body: list[ast.stmt],
    label: str | None,
    *,
    child_type: str | None = None,
) -> ast.AsyncFunctionDef:
    """`@block(label) async def <name>(page: Page, ctx: RunContext) -> None:`; with
    `child_type`, a task_v2 child's helper: `@block(label, block_type=..., child=True)`."""
    args = ast.arguments(
        posonlyargs=[],
        args=[ast.arg("page", name("Page")), ast.arg("ctx", name("RunContext"))],
        kwonlyargs=[],
        kw_defaults=[],
        defaults=[],
    )
    decorators: list[ast.expr] = [] if label is None else [call(name("block"), literal(label))]
    if label is not None and child_type is not None:
        decorators = [
            call(name("block"), literal(label), block_type=literal(child_type), child=literal(True))
        ]
    return ast.AsyncFunctionDef(
        name=function_name,
        args=args,
        body=body or [ast.Pass()],
        decorator_list=decorators,
        returns=ast.Constant(None),
        lineno=LINENO,
    )


MAX_LINE_CHARS = 99
_INDENT = "    "
_HOLE = "_scriptcache_hole_"
# Statement fields holding a nested block, one level deeper than the statement.
_BLOCKS = frozenset({"body", "orelse", "finalbody"})
# Nodes with no bracket to lay out below them (nor inside an f-string: a line break inside
# its braces is a syntax error in 3.11).
_LEAVES = (
    ast.Constant,
    ast.Name,
    ast.JoinedStr,
    ast.expr_context,
    ast.operator,
    ast.cmpop,
    ast.boolop,
    ast.unaryop,
)


def source(node: ast.AST) -> str:
    """The formatted source of a generated node: `ast.unparse`, except that a call, dict or
    list too long for its line is written one item per line, each with a trailing comma.

    A bracket is too long when its one-line form, plus 4 columns per indent level and
    `await `, passes MAX_LINE_CHARS. Public APIs only: in a shallow copy of the tree each
    outermost bracket becomes a placeholder name, `ast.unparse` writes the rest, and each
    placeholder is replaced by its bracket's text: one line when it fits, else laid out here
    (its items written the same way). Nothing inside an f-string is broken. (Statements carry
    `lineno`, see LINENO.)
    """
    return _render(node, 0)


def _render(node: ast.AST, indent: int) -> str:
    """`node` as a statement at `indent` levels, or as an expression on a line at `indent`."""
    if isinstance(node, _LEAVES):
        return ast.unparse(node)
    layout = _Layout()
    if isinstance(node, ast.stmt | ast.Module):
        tree = layout.statement(node, indent)
    else:
        tree = layout.expression(node, indent)
    return layout.fill(tree)


class _Layout:
    """The placeholders of one tree, and the laid-out text of each."""

    def __init__(self) -> None:
        self.names: list[ast.Name] = []
        self.texts: list[str] = []

    def fill(self, tree: ast.AST) -> str:
        """`ast.unparse(tree)` with each placeholder's text in place. Recorded text can say
        anything, a placeholder's spelling included: then other spellings are tried."""
        prefix = _HOLE
        while True:
            text = ast.unparse(tree)
            if not self.names:
                return text
            pattern = re.compile(re.escape(prefix) + r"(\d+)\b")
            if len(pattern.findall(text)) == len(self.names):
                return pattern.sub(lambda match: self.texts[int(match[1])], text)
            prefix += "x_"
            for number, placeholder in enumerate(self.names):
                placeholder.id = f"{prefix}{number}"

    def statement(self, node: ast.AST, depth: int) -> ast.AST:
        """`node` (a statement at `depth`, or a clause of one) with its long brackets swapped."""
        changes: dict[str, Any] = {}
        for field, value in ast.iter_fields(node):
            if field in _BLOCKS and isinstance(value, list):
                same_level = isinstance(node, ast.Module) or (  # `elif` is written at `if`'s level
                    isinstance(node, ast.If)
                    and field == "orelse"
                    and len(value) == 1
                    and isinstance(value[0], ast.If)
                )
                new: Any = self.statements(value, depth if same_level else depth + 1)
            elif field == "handlers":  # `except ...:` at the try's level
                new = self.statements(value, depth)
            elif field == "cases":  # `case ...:` one level in, its body two
                new = self.statements(value, depth + 1)
            elif field == "value" and isinstance(node, ast.Assign):  # `target = <value>`
                targets = " = ".join(ast.unparse(t) for t in node.targets)
                new = self.field(value, depth, len(f"{targets} = await "))
            else:
                new = self.field(value, depth)
            if new is not value:
                changes[field] = new
        return _replaced(node, changes)

    def statements(self, items: list[ast.AST], depth: int) -> list[ast.AST]:
        return _kept(items, [self.statement(item, depth) for item in items])

    def field(self, value: Any, indent: int, lead: int = len("await ")) -> Any:
        if isinstance(value, ast.AST):
            return self.expression(value, indent, lead)
        if isinstance(value, list):
            return _kept(
                value,
                [
                    self.expression(item, indent, lead) if isinstance(item, ast.AST) else item
                    for item in value
                ],
            )
        return value

    def expression(self, node: ast.AST, indent: int, lead: int = len("await ")) -> ast.AST:
        """`node` on a line at `indent`, each outermost bracket swapped for a placeholder
        name: its one-line form when that fits, else its items one per line. `lead`: the
        columns allowed for what precedes it on its line (`await `, an assignment's target)."""
        if isinstance(node, _LEAVES):
            return node
        items = _items(node)
        if items is None:
            changes = {
                field: new
                for field, value in ast.iter_fields(node)
                if (new := self.field(value, indent, lead)) is not value
            }
            return _replaced(node, changes)
        text = ast.unparse(node)
        if items and len(text) + len(_INDENT) * indent + lead > MAX_LINE_CHARS:
            text = _broken(node, items, indent)
        # A bracket that fits is a placeholder too, so that it is not written a second time.
        self.texts.append(text)
        self.names.append(ast.Name(f"{_HOLE}{len(self.names)}", ast.Load()))
        return self.names[-1]


Item = ast.expr | ast.keyword | tuple[ast.expr, ast.expr]


def _items(node: ast.AST) -> list[Item] | None:
    """The items of a call, dict or list that may go one per line; None for other nodes
    (and for a dict with `**` entries, whose own items stay on one line)."""
    if isinstance(node, ast.Call):
        return [*node.args, *node.keywords]
    if isinstance(node, ast.Dict) and None not in node.keys:
        return [
            (key, value)
            for key, value in zip(node.keys, node.values, strict=True)
            if key is not None
        ]
    if isinstance(node, ast.List):
        return list(node.elts)
    return None


def _broken(node: ast.AST, items: list[Item], indent: int) -> str:
    """`node` with one item per line at `indent + 1` and its closing bracket at `indent`."""
    if isinstance(node, ast.Call):
        # The callee as `ast.unparse` writes it before `(`, parenthesised when it must be.
        layout = _Layout()
        func = layout.expression(node.func, indent)  # an expression stays one (or a Name)
        callee = ast.Call(func if isinstance(func, ast.expr) else node.func, [], [])
        opening, closing = layout.fill(callee).removesuffix("()") + "(", ")"
    elif isinstance(node, ast.Dict):
        opening, closing = "{", "}"
    else:
        opening, closing = "[", "]"
    lines = "".join(f"\n{_INDENT * (indent + 1)}{_item(item, indent + 1)}," for item in items)
    return f"{opening}{lines}\n{_INDENT * indent}{closing}"


def _item(item: Item, indent: int) -> str:
    if isinstance(item, ast.keyword):
        return ("**" if item.arg is None else f"{item.arg}=") + _render(item.value, indent)
    if isinstance(item, tuple):
        key, value = item
        return f"{_render(key, indent)}: {_render(value, indent)}"
    return _render(item, indent)


def _kept(old: list[Any], new: list[Any]) -> list[Any]:
    """`old` when `new` holds the very same items, else `new`."""
    return old if all(a is b for a, b in zip(new, old, strict=True)) else new


def _replaced(node: ast.AST, changes: dict[str, Any]) -> ast.AST:
    """A shallow copy of `node` with `changes`, or `node` itself when there are none."""
    if not changes:
        return node
    new = node.__class__.__new__(node.__class__)
    new.__dict__.update(node.__dict__, **changes)
    return new
