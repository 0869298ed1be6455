"""A block's outcome check (ARCHITECTURE.md §12): generated from `block_completed.page`.

A task block whose recorded run completed on a known page ends with
`await page.expect_outcome(path=..., title=...)`. The path is the recorded url's path with the
run's values bound as typed values are (worker/domain/codegen/values.py). The title is checked
only when the block ended at the path it started at (`page.start_url`; a search that reloads its
page, a form that posts to itself, a single-page application), where the path cannot tell
whether the block did anything: a title names the user's permissions ("View customer", "Change
customer") and the site's data as often as the outcome, so it is not checked where the path
suffices. It is bound as
an element's text is (worker/domain/codegen/expect.py `bound_text`: a whole value, or the loop's
or a mentioned one inside it), because a title is the site's prose. What no other run repeats
becomes the wildcard `*` (worker/runtime/outcome.py): digits (ids the site assigns, counts),
long hexadecimal tokens, a redacted secret. In a loop child, a part that still differs between
the recorded iterations is not checked. A run without a page (an older producer) gets no check,
as before.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from worker.domain.codegen.actions import ActionScope
from worker.domain.codegen.nodes import attr, awaited, call, source
from worker.domain.codegen.values import LOOP, Binder, Bound
from worker.domain.run import BlockRun
from worker.runtime.outcome import WILDCARD, normalized_title, path_of
from worker.secrets.seals import REDACTED

_TOKEN = re.compile(r"[0-9A-Fa-f][0-9A-Fa-f-]{7,}")  # uuids, hashes: one wildcard each
_DIGITS = re.compile(r"\d+")
_STARS = re.compile(r"\*{2,}")


def volatile(text: str) -> str:
    """`text` with what no other run repeats replaced by the wildcard."""
    text = text.replace(REDACTED, WILDCARD)
    text = _TOKEN.sub(lambda m: WILDCARD if _DIGITS.search(m.group()) else m.group(), text)
    return _STARS.sub(WILDCARD, _DIGITS.sub(WILDCARD, text))


def _parts(run: BlockRun, binder: Binder) -> tuple[Bound | None, Bound | None]:
    page = run.page
    if page is None:
        return None, None
    path = binder.pattern(path_of(page.url), volatile) if page.url else None
    title = None
    same_page = page.url and page.start_url and path_of(page.start_url) == path_of(page.url)
    if same_page and page.title and page.title.strip():
        text = normalized_title(page.title)
        bound = binder.bind(text)
        if not (bound.literal or (len(bound.used) == 1 and bound.used[0].text == text)):
            binder = binder.within(lambda src: src.group == LOOP or src.mentioned)  # bound_text
        title = binder.pattern(text, volatile)
    return path, title


def outcome_check(
    run: BlockRun, scope: ActionScope, others: Sequence[tuple[BlockRun, ActionScope]] = ()
) -> ast.stmt | None:
    """`await page.expect_outcome(path=..., title=...)` for `run`, or None when it recorded no
    page or did not complete. `others`: the other completed iterations of a loop child, each
    with its scope; a part whose code differs in one of them is left out."""
    if run.status != "completed" or run.page is None:
        return None
    path, title = _parts(run, scope.values())
    for other, other_scope in others:
        if other is run or other.status != "completed" or other.page is None:
            continue
        other_path, other_title = _parts(other, other_scope.values())
        if path is not None and (other_path is None or _code(other_path) != _code(path)):
            path = None
        if title is not None and (other_title is None or _code(other_title) != _code(title)):
            title = None
    parts = (("path", path), ("title", title))
    keywords = {k: b.expr for k, b in parts if b is not None and _code(b) != repr(WILDCARD)}
    if not keywords:
        return None
    return awaited(call(attr("page", "expect_outcome"), **keywords))


def _code(bound: Bound) -> str:
    return source(bound.expr)
