"""Which expression a recorded value becomes (ARCHITECTURE.md §9): pure and deterministic.

A replay types the values of the run it is in, never the recorded run's. A recorded string
(typed text, a selected option, an upload path, a visited url, a key pressed, and the
selectors and intentions around them) without `parameter_key` is bound, in this order, to:

1. a credential of the run whose value it is or contains (when the generator is given
   credential values at all: storage never keeps them, intake binds them by key instead);
2. the loop's current value (any length when whole, 3 characters or more inside the text);
3. a workflow parameter: its value as text, an item of a list parameter or a field of an
   object parameter;
4. a scalar of an earlier block's extracted output in the same run (`ctx.outputs[label]`);

and stays a literal otherwise. A match of fewer than 3 characters binds only when the block's
own definition mentions the parameter (`{{ key }}` in its url, goal or prompt). Inside longer
text a value binds only at word boundaries, whatever its length: "EUR" does not bind in
"EUROPE", "100" not in "1000", "dev" not in "devops@acme.example". A selector binds only the
loop's value and the sources the block's definition mentions (`Binder.for_selector`): the
`refund` of `//button[@id='refund-btn']` is the page's, not a parameter's. Ties go to the
mentioned source, then to the first key in sorted order; inside a text, longer matches go
first. A text with several matches becomes an
f-string (or, when Python 3.11 cannot write that f-string, a concatenation).

Recorded text only ever enters the tree through `literal()`: it is split at the matches, never
parsed or rendered.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import meta

from worker.domain.codegen.nodes import attr, call, ctx_call, literal, name, source
from worker.domain.definition import Block

MIN_CONTAINED_CHARS = 3  # shorter values occur inside other text by accident
MAX_PATH_DEPTH = 4  # how deep into list/object values a scalar is looked for
MAX_SCALARS = 256  # scalars taken from one value; a huge list binds its first ones only
_WORD = re.compile(r"\w", re.UNICODE)
_VARIABLE = re.compile(r"\{\{-?\s*([A-Za-z_][A-Za-z0-9_]*)")
_JINJA = jinja2.Environment(autoescape=False)

# Source groups, in binding order.
CREDENTIAL, LOOP, PARAMETER, OUTPUT = range(4)
LOOP_NAME = "current_value"  # how a definition mentions the loop's value


@dataclass(frozen=True, eq=False)
class Source:
    """One value of the run a recorded text may come from, and how a replay reads it."""

    text: str  # the value as text, in the recorded run
    expr: ast.expr  # the expression giving that text (or the value) in a replay
    textual: bool  # expr is a str already (else it is formatted into text)
    group: int
    mentioned: bool  # the block's definition mentions this source
    name: str  # for ties: the parameter key (path), "current_value" or "label.output"

    def whole(self) -> ast.expr:
        """The expression for a text that is exactly this source."""
        return self.expr if self.textual else _template([self])

    def may_bind(self, whole: bool) -> bool:
        if whole:
            return (
                len(self.text) >= MIN_CONTAINED_CHARS
                or self.mentioned
                or self.group in (CREDENTIAL, LOOP)
            )
        return len(self.text) >= MIN_CONTAINED_CHARS or (
            self.mentioned and self.group in (PARAMETER, OUTPUT)
        )


@dataclass(frozen=True)
class Bound:
    """A recorded value as code: its expression and the references it reads."""

    expr: ast.expr
    used: tuple[Source, ...] = ()  # the sources it reads

    @property
    def literal(self) -> bool:
        return not self.used


@dataclass(frozen=True)
class Binder:
    """The sources one block's recorded values are bound to."""

    sources: tuple[Source, ...] = ()

    def bind(self, raw: Any) -> Bound:
        """`raw` (a recorded value) as an expression: a reference, a template, or literal."""
        if not isinstance(raw, str) or not raw or not self.sources:
            return Bound(literal(raw))
        if (src := self.whole(raw)) is not None:
            return Bound(src.whole(), (src,))
        parts = self._parts(raw)
        used = tuple(dict.fromkeys(p for p in parts if isinstance(p, Source)))
        if not used:
            return Bound(literal(raw))
        return Bound(_template(parts), used)

    def pattern(self, raw: str, rest: Callable[[str], str]) -> Bound:
        """`raw` bound as `bind` binds it, every piece left literal passed through `rest` (an
        outcome check's pattern: what no run repeats becomes a wildcard)."""
        src = self.whole(raw) if raw else None
        if src is not None:
            return Bound(src.whole(), (src,))
        parts = [p if isinstance(p, Source) else rest(p) for p in self._parts(raw)]
        used = tuple(dict.fromkeys(p for p in parts if isinstance(p, Source)))
        if not used:
            return Bound(literal("".join(p for p in parts if isinstance(p, str))))
        return Bound(_template(parts), used)

    def _parts(self, raw: str) -> list[str | Source]:
        parts: list[str | Source] = [raw]
        for src in sorted(self.sources, key=_inside_order):
            if src.text and src.may_bind(whole=False):
                parts = [p for part in parts for p in _split(part, src)]
        return parts

    def whole(self, raw: str) -> Source | None:
        """The source a whole recorded text is, by the rules of binding (length, mention,
        ties); None when it is none of them."""
        for src in sorted(self.sources, key=_tie_order):
            if src.text == raw and src.may_bind(whole=True):
                return src
        return None

    def for_selector(self) -> Binder:
        """A binder for a selector: the loop's value and the sources the block's definition
        mentions. A selector names the page's elements, whose words are the site's: a
        parameter's value that happens to be one of them is not where the selector comes
        from."""
        return self.within(lambda src: src.group in (CREDENTIAL, LOOP) or src.mentioned)

    def named(self, key: str) -> tuple[Source, ...]:
        """The sources of parameter `key`'s whole value."""
        return tuple(s for s in self.sources if s.group == PARAMETER and s.name == key)

    def only(self, sources: Iterable[Source]) -> Binder:
        """A binder for prose around a value (an intention): the sources that value read,
        so a description follows its data and never matches words by accident."""
        return Binder(tuple(dict.fromkeys(sources)))

    def within(self, keep: Callable[[Source], bool]) -> Binder:
        """A binder of the sources `keep` accepts."""
        return Binder(tuple(s for s in self.sources if keep(s)))

    def mentioned(self) -> Binder:
        """A binder for text the platform rendered from the block's definition (a goal):
        the sources its templates mention."""
        return Binder(tuple(s for s in self.sources if s.mentioned))


def _tie_order(src: Source) -> tuple[int, bool, str]:
    return (src.group, not src.mentioned, src.name)


def _inside_order(src: Source) -> tuple[int, int, bool, str]:
    return (src.group, -len(src.text), not src.mentioned, src.name)


def _split(part: str | Source, src: Source) -> Iterator[str | Source]:
    """A literal piece cut at each occurrence of `src` that stands at word boundaries."""
    if isinstance(part, Source):
        yield part
        return
    start, text, needle = 0, part, src.text
    at = text.find(needle)
    while at >= 0:
        end = at + len(needle)
        if _whole_word(text, at, end):
            if at > start:
                yield text[start:at]
            yield src
            start = end
        at = text.find(needle, end if start == end else at + 1)
    if start < len(text):
        yield text[start:]


def _whole_word(text: str, start: int, end: int) -> bool:
    """`text[start:end]` is not part of a longer word: no word character joins it on either
    side (an edge of the value that is not a word character joins nothing)."""
    return not (_joins(text, start - 1, start) or _joins(text, end, end - 1))


def _joins(text: str, outside: int, inside: int) -> bool:
    return (
        0 <= outside < len(text)
        and _WORD.match(text[outside]) is not None
        and _WORD.match(text[inside]) is not None
    )


def _template(parts: Sequence[str | Source]) -> ast.expr:
    """An f-string of literal pieces and references; a concatenation when the f-string
    cannot be written (Python 3.11 allows no backslash or reused quote inside `{}`)."""
    pieces: list[ast.expr] = [
        literal(p) if isinstance(p, str) else ast.FormattedValue(p.expr, -1, None) for p in parts
    ]
    fstring = ast.JoinedStr(pieces)
    try:
        text = source(fstring)
        if ast.dump(ast.parse(text, mode="eval").body) == ast.dump(fstring):
            return fstring
    except (SyntaxError, ValueError):
        pass
    terms = [
        literal(p) if isinstance(p, str) else p.expr if p.textual else call(name("str"), p.expr)
        for p in parts
    ]
    out = terms[0]
    for term in terms[1:]:
        out = ast.BinOp(out, ast.Add(), term)
    return out


# --- where sources come from -------------------------------------------------------------


def scalars(value: Any, depth: int = 0) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """(path, scalar) of a JSON value: itself, or the items and fields inside it."""
    if isinstance(value, str | int | float):  # bool is an int
        yield (), value
        return
    if depth >= MAX_PATH_DEPTH:
        return
    items: Iterable[tuple[str | int, Any]]
    if isinstance(value, list | tuple):
        items = enumerate(value)
    elif isinstance(value, Mapping):
        items = sorted((k, v) for k, v in value.items() if isinstance(k, str))
    else:
        return
    for step, item in items:
        for path, scalar in scalars(item, depth + 1):
            yield (step, *path), scalar


def sources_of(value: Any, base: ast.expr, group: int, mentioned: bool, label: str) -> list[Source]:
    """Sources for every scalar of `value`, read in a replay through `base[...]`."""
    out: list[Source] = []
    seen: set[str] = set()
    for path, scalar in scalars(value):
        if len(out) >= MAX_SCALARS:
            break
        expr = base
        for step in path:
            expr = ast.Subscript(expr, literal(step), ast.Load())
        where = label + "".join(f"[{step!r}]" for step in path)
        for text, ref, textual in _texts(scalar, expr):
            if text and text not in seen:  # the first path with a text wins
                seen.add(text)
                out.append(Source(text, ref, textual, group, mentioned, where))
    return out


def _texts(value: Any, expr: ast.expr) -> list[tuple[str, ast.expr, bool]]:
    """The texts an agent would type for a scalar, each with the expression typing it."""
    if isinstance(value, str):
        return [(value, expr, True)]
    if isinstance(value, bool):
        lower = ast.IfExp(expr, literal("true"), literal("false"))
        return [(str(value), expr, False), (str(value).lower(), lower, True)]
    if isinstance(value, int | float):
        return [(str(value), expr, False)]
    return []


def mentions(blocks: Iterable[Block | None]) -> frozenset[str]:
    """The names the blocks' own templates use (`{{ key }}`, `{{ label.output }}`,
    `{{ current_value }}`), from their string fields (children excluded)."""
    found: set[str] = set()
    for block in blocks:
        if block is None:
            continue
        data = block.model_dump(mode="json", exclude={"loop_blocks", "branches"})
        for text in _strings(data):
            if "{{" in text or "{%" in text:
                found |= _variables(text)
    return frozenset(found)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _variables(template: str) -> set[str]:
    try:
        return set(meta.find_undeclared_variables(_JINJA.parse(template)))
    except jinja2.TemplateError:
        return set(_VARIABLE.findall(template))


@dataclass(frozen=True)
class RunValues:
    """What a run offers to bind to, shared by all its blocks."""

    parameters: Mapping[str, Any]  # the recorded run's (non-secret) parameter values
    credential_keys: frozenset[str] = frozenset()
    secret_keys: frozenset[str] = frozenset()  # credential and totp: never a ctx.param

    def binder(
        self, loop_value: Any, in_loop: bool, mentioned: frozenset[str], outputs: Mapping[str, Any]
    ) -> Binder:
        out: list[Source] = []
        for key in sorted(self.parameters):
            value = self.parameters[key]
            if key in self.credential_keys:
                ref = ctx_call("credential", literal(key))
                if isinstance(value, str):
                    out += sources_of(value, ref, CREDENTIAL, True, key)
            elif key not in self.secret_keys:
                ref = ctx_call("param", literal(key))
                out += sources_of(value, ref, PARAMETER, key in mentioned, key)
        if in_loop and loop_value is not None:
            out += sources_of(
                loop_value, attr("ctx", "current_value"), LOOP, LOOP_NAME in mentioned, LOOP_NAME
            )
        for label in sorted(outputs):
            read = ast.Subscript(attr("ctx", "outputs"), literal(label), ast.Load())
            out += sources_of(outputs[label], read, OUTPUT, label in mentioned, f"{label}.output")
        return Binder(tuple(out))
