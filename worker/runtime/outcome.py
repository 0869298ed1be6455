"""A block's outcome check, pure: does today's page look like the recorded run's when the block
completed (ARCHITECTURE.md §12)?

A generated block ends with `await page.expect_outcome(path=..., title=...)`: the url's path
and the page's title the recorded run ended the block on, the run's values bound (a path
`/orders/{ctx.param("order")}`), and `*` wherever the recording held something no run repeats
(an id the site assigned, a count, a redacted secret). `*` stands for any run of characters, in
a path any run without `/`. Titles are compared with their white space collapsed; a value that
itself contains `*` only loosens its check.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote, urlsplit

WILDCARD = "*"


def path_of(url: str) -> str:
    """The path of a url, percent-decoded ("/" when it has none)."""
    return unquote(urlsplit(url).path) or "/"


def normalized_title(title: str) -> str:
    return " ".join(title.split())


@lru_cache(maxsize=256)
def _compiled(pattern: str, segment: bool) -> re.Pattern[str]:
    any_run = "[^/]*?" if segment else ".*?"
    return re.compile(any_run.join(re.escape(p) for p in pattern.split(WILDCARD)), re.DOTALL)


def path_matches(pattern: str, path: str) -> bool:
    """`path` (percent-decoded) fits `pattern`; a trailing slash is not a difference."""
    return (
        _compiled(pattern.rstrip("/") or "/", True).fullmatch(path.rstrip("/") or "/") is not None
    )


def title_matches(pattern: str, title: str) -> bool:
    return (
        _compiled(normalized_title(pattern), False).fullmatch(normalized_title(title)) is not None
    )


def outcome_problem(
    path: str | None, title: str | None, actual_url: str, actual_title: str | None
) -> str | None:
    """What differs between the expected outcome and the page (None: it holds)."""
    problems = []
    actual_path = path_of(actual_url)
    if path is not None and not path_matches(path, actual_path):
        problems.append(f"the page is at {actual_path!r}, the recording's was at {path!r}")
    if title is not None and not title_matches(title, actual_title or ""):
        problems.append(f"its title is {actual_title!r}, the recording's was {title!r}")
    return "; ".join(problems) or None
