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
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

# Names a generated module binds itself; a block function must never shadow them.
MODULE_NAMES = frozenset({
    "page", "ctx", "block", "branch", "value", "run_workflow", "Parameters", "Page",
    "RunContext", "TypedDict", "Any",
})
RESERVED = (
    frozenset(keyword.kwlist) | frozenset(keyword.softkwlist) | frozenset(dir(builtins))
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
    function_name: str, body: list[ast.stmt], label: str | None
) -> ast.AsyncFunctionDef:
    """`@block(label) async def <name>(page: Page, ctx: RunContext) -> None:`."""
    args = ast.arguments(
        posonlyargs=[], args=[ast.arg("page", name("Page")), ast.arg("ctx", name("RunContext"))],
        kwonlyargs=[], kw_defaults=[], defaults=[],
    )
    decorators: list[ast.expr] = [] if label is None else [call(name("block"), literal(label))]
    return ast.AsyncFunctionDef(
        name=function_name, args=args, body=body or [ast.Pass()],
        decorator_list=decorators, returns=ast.Constant(None), lineno=LINENO,
    )


MAX_LINE_CHARS = 99


class _Formatter(ast._Unparser):  # type: ignore[name-defined,misc]
    """`ast.unparse`, except that a call, dict or list too long for one line gets one item
    per line. Subclasses the stdlib's (private) unparser: the golden files catch any change.
    """

    def _flat(self, node: ast.AST, items: int) -> str | None:
        """The one-line form of `node`, or None when it has items and is too long."""
        flat = ast.unparse(node)
        too_long = items > 0 and len(flat) + 4 * self._indent + len("await ") > MAX_LINE_CHARS
        return None if too_long else flat

    def _items(self, opening: str, closing: str, write_items: list[Callable[[], None]]) -> None:
        self.write(opening)
        self._indent += 1
        for write_item in write_items:
            self.fill()
            write_item()
            self.write(",")
        self._indent -= 1
        self.fill(closing)

    # Calls, dicts and lists are delimited: their one-line form needs no parentheses.
    def visit_Call(self, node: ast.Call) -> None:
        arguments: list[ast.AST] = [*node.args, *node.keywords]
        if (flat := self._flat(node, len(arguments))) is not None:
            self.write(flat)
            return
        self.set_precedence(ast._Precedence.ATOM, node.func)  # type: ignore[attr-defined]
        self.traverse(node.func)
        self._items("(", ")", [partial(self.traverse, a) for a in arguments])

    def visit_Dict(self, node: ast.Dict) -> None:
        if None in node.keys:
            super().visit_Dict(node)
            return
        if (flat := self._flat(node, len(node.keys))) is not None:
            self.write(flat)
            return
        self._items("{", "}", [partial(self._pair, k, v) for k, v in zip(
            node.keys, node.values, strict=True)])

    def _pair(self, key: ast.expr | None, value: ast.expr) -> None:
        self.traverse(key)
        self.write(": ")
        self.traverse(value)

    def visit_List(self, node: ast.List) -> None:
        if (flat := self._flat(node, len(node.elts))) is not None:
            self.write(flat)
            return
        self._items("[", "]", [partial(self.traverse, e) for e in node.elts])


def source(node: ast.AST) -> str:
    """The formatted source of a generated node (statements carry `lineno`, see `LINENO`)."""
    return str(_Formatter().visit(node))
