"""Which visible element of today's page is the recorded one (ARCHITECTURE.md §11), pure.

A recorded selector is a position; the recording also says what the element was
(`actions[].element`: tag, text, id, name, label, form, landmark, ...; worker/runtime/
identity.py's DESCRIBE_JS writes it). When the selector designates nothing or another element,
the browser gathers the page's visible candidates (identity.py's CANDIDATES_JS) and this module
alone decides which one, if any, the recorded element is now:

1. A record of nothing but tag and text is never relocated: a text is what a decoy copies.
2. Scope: when the recorded landmark (form#login-form, nav[aria-label="Breadcrumbs"], ...) or
   form (action path and field names) still exists on the page, only candidates inside it
   count; and the element the run acted on in its previous action never counts (a page that
   has not moved on yet is waited for, never clicked twice).
3. Score (after Similo): for each attribute the record has, its weight times the similarity
   of the candidate's value (0 when the candidate has none), less twice the weight of each stable
   attribute the candidate contradicts (another kind of element, id, name, address, form or
   table row, or none of the texts beside it), divided by the
   record's total weight: 1.0 is a candidate that agrees on everything. Stable attributes
   weigh most.
4. The best candidate is the element when its score is at least THRESHOLD and beats the
   second best by MARGIN; otherwise the action is handed over (agent, or a stop naming the
   best candidates with their scores). A wrong relocation is worse than none.

Weights, threshold and margin are measured on the relocation corpus (tests/relocation,
docs/BENCHMARKS.md "Relocation").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

WEIGHTS: Mapping[str, float] = {
    "tag": 1.0,
    "id": 3.0,
    "name": 3.0,
    "label": 2.5,
    "text": 2.0,
    "aria_label": 2.0,
    "href": 2.0,
    "form": 2.0,
    "placeholder": 1.5,
    "value": 1.5,
    "near": 1.5,
    "row": 1.5,
    "title": 1.0,
    "alt": 1.0,
    "type": 1.0,
    "role": 1.0,
    "landmark": 1.0,
    "index": 0.5,
}
THRESHOLD = 0.6
MARGIN = 0.15
# Stable attributes that, when the candidate has another value (similarity below this), count
# against it: another kind of element, id, field name, address or form is another element.
CONTRADICTING: Mapping[str, float] = {
    "tag": 0.5,
    "id": 1.0,
    "name": 1.0,
    "href": 0.7,
    "form": 0.75,
    "row": 0.8,  # another row of a table
    "near": 0.01,  # none of the texts beside it
}
PENALTY = 2.0  # times its weight, what a contradicted attribute takes off
# Attributes a record needs besides tag and text before it may be relocated at all.
IDENTIFYING = frozenset(WEIGHTS) - {"tag", "text"}
SHOWN_CANDIDATES = 3
_WORD = re.compile(r"\w+")
_BUTTONS = frozenset({"button", "input:submit", "input:button", "input:reset", "input:image"})
_FIELDS = frozenset(
    {"input:text", "input:", "input:search", "input:email", "input:url", "textarea", "editable"}
)


@dataclass(frozen=True)
class Scored:
    """One candidate with its score."""

    score: float
    candidate: Mapping[str, Any]

    @property
    def xpath(self) -> str:
        return str(self.candidate.get("xpath"))

    def shown(self) -> str:
        """`<a 'Request refund'> 0.42 at /html/body/main/a`: for messages."""
        tag, text = self.candidate.get("tag"), self.candidate.get("text")
        element = f"<{tag} {text!r}>" if text else f"<{tag}>"
        return f"{element} {self.score:.2f} at {self.xpath}"


@dataclass(frozen=True)
class Match:
    """The matcher's answer: the xpath to act on, or None with the reason."""

    xpath: str | None
    reason: str
    ranked: tuple[Scored, ...] = ()

    @property
    def found(self) -> bool:
        return self.xpath is not None

    def describe(self) -> str:
        """The reason and the best candidates with their scores, for an error message."""
        best = "; ".join(s.shown() for s in self.ranked[:SHOWN_CANDIDATES])
        return f"{self.reason} (best candidates: {best or 'none'})"


def squashed(text: Any) -> str:
    """A text as compared: whitespace collapsed, case folded, a trailing colon or asterisk
    (label decoration) dropped. Never cut."""
    if text is None:
        return ""
    return " ".join(str(text).split()).casefold().rstrip(" :*").strip()


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def text_similarity(recorded: Any, found: Any) -> float:
    """1 for the same text; else 0.8 times the Dice coefficient of their words."""
    a, b = squashed(recorded), squashed(found)
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    wa, wb = set(_words(a)), set(_words(b))
    if not wa or not wb:
        return 0.0
    return 0.8 * 2 * len(wa & wb) / (len(wa) + len(wb))


def _same(recorded: Any, found: Any) -> float:
    return 1.0 if squashed(recorded) == squashed(found) and squashed(found) else 0.0


def _kind(element: Mapping[str, Any]) -> str:
    tag = str(element.get("tag") or "")
    if element.get("role") == "textbox" or element.get("editable"):
        return "editable"
    if tag == "input":
        return f"input:{str(element.get('type') or '').lower()}"
    if element.get("role") == "button":
        return "button"
    return tag


def tag_similarity(record: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
    """1 for the same tag; 0.5 for another kind of button (an `<input type=submit>` that
    became a `<button>`) or of text field (a textarea that became a rich-text editor)."""
    if candidate.get("tag") == record.get("tag"):
        return 1.0
    kinds = {_kind(record), _kind(candidate)}
    return 0.5 if kinds <= _BUTTONS or kinds <= _FIELDS else 0.0


def href_similarity(recorded: Any, found: Any) -> float:
    """1 for the same path and query; 0.7 for the same path; else 0. Another origin is
    another address (identity.py keeps it in the value)."""
    a, b = str(recorded or ""), str(found or "")
    if not a or not b:
        return 0.0
    if a == b:
        return 1.0
    return 0.7 if a.split("?")[0] == b.split("?")[0] else 0.0


def _fields(form: Any) -> set[str]:
    fields = form.get("fields") if isinstance(form, Mapping) else None
    return {str(f) for f in fields} if isinstance(fields, list | tuple) else set()


def _same_action(recorded: Any, found: Any) -> bool:
    """The same form address; a recorded one without a query (a script drops a query that held
    the recorded run's data, worker/domain/codegen/expect.py) compares by path."""
    if recorded == found:
        return True
    a, b = str(recorded or ""), str(found or "")
    return bool(a) and "?" not in a and a == b.split("?")[0]


def form_similarity(recorded: Any, found: Any) -> float:
    """Half for the same action path, half for the overlap (Jaccard) of field names."""
    if not isinstance(recorded, Mapping) or not isinstance(found, Mapping):
        return 0.0
    action = 0.5 if _same_action(recorded.get("action"), found.get("action")) else 0.0
    a, b = _fields(recorded), _fields(found)
    overlap = len(a & b) / len(a | b) if a | b else 1.0
    return action + 0.5 * overlap


def near_similarity(recorded: Any, found: Any) -> float:
    """The share of the recorded nearby texts found beside the candidate."""
    a = {squashed(t) for t in recorded or ()} - {""}
    b = {squashed(t) for t in found or ()} - {""}
    return len(a & b) / len(a) if a else 0.0


def landmark_similarity(recorded: Any, candidate: Mapping[str, Any]) -> float:
    return 1.0 if recorded and recorded in _landmarks(candidate) else 0.0


def _landmarks(candidate: Mapping[str, Any]) -> list[Any]:
    chain = candidate.get("landmarks")
    own = candidate.get("landmark")
    return [*(chain if isinstance(chain, list) else ()), *([own] if own else [])]


Similarity = Callable[[Mapping[str, Any], Mapping[str, Any]], float]
_SIMILARITY: Mapping[str, Similarity] = {
    "tag": tag_similarity,
    "text": lambda r, c: text_similarity(r.get("text"), c.get("text")),
    "label": lambda r, c: text_similarity(r.get("label"), c.get("label")),
    "aria_label": lambda r, c: text_similarity(r.get("aria_label"), c.get("aria_label")),
    "placeholder": lambda r, c: text_similarity(r.get("placeholder"), c.get("placeholder")),
    "title": lambda r, c: text_similarity(r.get("title"), c.get("title")),
    "alt": lambda r, c: text_similarity(r.get("alt"), c.get("alt")),
    "value": lambda r, c: text_similarity(r.get("value"), c.get("value")),
    "row": lambda r, c: text_similarity(r.get("row"), c.get("row")),
    "href": lambda r, c: href_similarity(r.get("href"), c.get("href")),
    "form": lambda r, c: form_similarity(r.get("form"), c.get("form")),
    "near": lambda r, c: near_similarity(r.get("near"), c.get("near")),
    "landmark": lambda r, c: landmark_similarity(r.get("landmark"), c),
    "index": lambda r, c: 1.0 if r.get("index") == c.get("index") else 0.0,
    "id": lambda r, c: _same(r.get("id"), c.get("id")),
    "name": lambda r, c: _same(r.get("name"), c.get("name")),
    "type": lambda r, c: _same(r.get("type"), c.get("type")),
    "role": lambda r, c: _same(r.get("role"), c.get("role")),
}


def recorded_attributes(record: Mapping[str, Any]) -> list[str]:
    """The attributes of the record that count: those with a value (index 0 included)."""
    return [
        a
        for a in WEIGHTS
        if (value := record.get(a)) is not None and value != "" and value != [] and value != {}
    ]


def score(record: Mapping[str, Any], candidate: Mapping[str, Any]) -> float:
    """The weighted share of the record's attributes the candidate agrees with, less the
    weight of each stable attribute it contradicts (CONTRADICTING), in [0, 1]."""
    attributes = recorded_attributes(record)
    total = sum(WEIGHTS[a] for a in attributes)
    if not total:
        return 0.0
    agreed = 0.0
    for a in attributes:
        similarity = _SIMILARITY[a](record, candidate)
        agreed += WEIGHTS[a] * similarity
        if a in CONTRADICTING and candidate.get(a) and similarity < CONTRADICTING[a]:
            agreed -= PENALTY * WEIGHTS[a]
    return max(0.0, agreed / total)


def specific(landmark: Any) -> bool:
    """Whether a landmark names one region of a page: by id, role or aria-label, or `main`
    (a bare `form` or `nav` may be any of several)."""
    return isinstance(landmark, str) and ("#" in landmark or "[" in landmark or landmark == "main")


def in_scope(record: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The candidates inside the recorded landmark (when it names one region) and form, each
    only when it still exists on the page (some candidate lies in it)."""
    landmark = record.get("landmark")
    if specific(landmark) and any(landmark in _landmarks(c) for c in candidates):
        candidates = [c for c in candidates if landmark in _landmarks(c)]
    form = record.get("form")
    if isinstance(form, Mapping) and candidates:
        best = max(form_similarity(form, c.get("form")) for c in candidates)
        if best >= 0.75:  # the same action and most of its fields: the recorded form is here
            candidates = [c for c in candidates if form_similarity(form, c.get("form")) == best]
    return list(candidates)


def match(
    record: Mapping[str, Any],
    candidates: Sequence[Any],
    *,
    previous_allowed: bool = False,
    threshold: float = THRESHOLD,
    margin: float = MARGIN,
) -> Match:
    """The candidate (CANDIDATES_JS's items) that is the recorded element, or why none is.

    `previous_allowed`: the recording acted on the same element in its previous action (a
    key pressed in the field just filled), so the element marked `previous` may count."""
    usable = [
        c
        for c in candidates
        if isinstance(c, Mapping) and isinstance(c.get("xpath"), str) and c.get("tag")
    ]
    if not recorded_attributes(record) or not set(recorded_attributes(record)) & IDENTIFYING:
        return Match(None, "the recording names the element only by its tag and text")
    scoped = in_scope(record, usable)
    if not previous_allowed:
        scoped = [c for c in scoped if not c.get("previous")]
    ranked = tuple(
        sorted((Scored(round(score(record, c), 4), c) for c in scoped), key=lambda s: -s.score)
    )
    if not ranked:
        return Match(None, "no candidate in the recorded landmark and form")
    best = ranked[0]
    if best.score < threshold:
        return Match(None, f"no candidate scores {threshold:g} or more", ranked)
    if len(ranked) > 1 and best.score - ranked[1].score < margin:
        return Match(None, f"the best two candidates are within {margin:g}", ranked)
    return Match(best.xpath, "found", ranked)
