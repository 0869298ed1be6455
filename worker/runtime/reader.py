"""Extraction learned from the agent's run (ARCHITECTURE.md §12): where each scalar of a
block's output was on the page, and how to read it back from today's page, pure but for the
page-side script.

When a block completes with an output (what the agent's extractor returned), the runtime looks
for each top-level scalar of it on the page (PLACES_JS): the deepest visible element whose text
is the value, or holds it as a number ("EUR 129.90" for 129.9) or at word boundaries; it
records that element's descriptor (worker/runtime/identity.py), its xpath and the text around
the value (`before`, `after`). The generator turns those places into a reader:
`await page.read({key: {"selector": ..., "expect": (tag, None, {...}), "before": ...}, ...})`
(a key the page did not show is None: the agent's extractor reads it). The runtime finds each
element by the matcher (never by position alone: a wrong element read is wrong data) and
`value_of` turns its text into the field's value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from worker.runtime.identity import DESCRIBE_JS, FULL_XPATH_JS

MAX_FIELDS = 64  # scalars looked for in one output
MAX_ELEMENTS = 5000  # elements of a page looked through
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")

# args: {values: [{key, text, number}]} -> [{key, xpath, element, before, after}]
PLACES_JS = (
    """args => {
  const squash = s => (s == null ? '' : String(s)).replace(/\\s+/g, ' ').trim();
  const describe = DESCRIBE;
  const xpath = XPATH;
  const skip = new Set(['script', 'style', 'noscript', 'template', 'head', 'title', 'option']);
  const all = Array.from(document.body ? document.body.querySelectorAll('*') : [])
    .filter(el => !skip.has(el.localName)).slice(0, MAX_ELEMENTS);
  const texts = new Map();
  const text = el => {
    if (!texts.has(el)) texts.set(el, squash(el.innerText));
    return texts.get(el);
  };
  const word = c => /[\\p{L}\\p{N}_]/u.test(c || '');
  const find = (t, v) => {
    if (t === v.text) return [0, t.length];
    if (v.number !== null) {
      const re = /-?\\d[\\d,]*(?:\\.\\d+)?/g;
      let m;
      while ((m = re.exec(t))) {
        if (parseFloat(m[0].replace(/,/g, '')) === v.number) return [m.index, m[0].length];
      }
      return null;
    }
    for (let i = t.indexOf(v.text); i >= 0; i = t.indexOf(v.text, i + 1)) {
      const end = i + v.text.length;
      if (!(word(t[i - 1]) && word(t[i])) && !(word(t[end]) && word(t[end - 1]))) {
        return [i, v.text.length];
      }
    }
    return null;
  };
  const out = [];
  for (const v of args.values) {
    let best = null;
    for (const el of all) {
      const t = text(el);
      if (!t || t.length > 300 || (best && t.length > best.t.length)) continue;
      if (best && t.length === best.t.length && !best.el.contains(el)) continue;
      const at = find(t, v);
      if (!at || !el.checkVisibility()) continue;
      best = {el, t, before: t.slice(0, at[0]), after: t.slice(at[0] + at[1])};
    }
    if (best) {
      out.push({key: v.key, xpath: xpath(best.el), element: describe(best.el),
                before: best.before, after: best.after});
    }
  }
  return out;
}""".replace("DESCRIBE", DESCRIBE_JS)
    .replace("XPATH", FULL_XPATH_JS)
    .replace("MAX_ELEMENTS", str(MAX_ELEMENTS))
)


def wanted(output: Any) -> list[dict[str, Any]]:
    """The top-level scalars of an output PLACES_JS looks for: strings (not blank) and
    numbers (not booleans)."""
    if not isinstance(output, Mapping):
        return []
    values: list[dict[str, Any]] = []
    for key, value in list(output.items())[:MAX_FIELDS]:
        if isinstance(value, bool) or not isinstance(key, str):
            continue
        if isinstance(value, int | float):
            values.append({"key": key, "text": str(value), "number": value})
        elif isinstance(value, str) and value.strip():
            values.append({"key": key, "text": " ".join(value.split()), "number": None})
    return values


def value_of(text: str | None, spec: Mapping[str, Any]) -> Any:
    """A field's value from its element's text, by its reader `spec`: the recorded text around
    the value stripped, a number parsed when the field is one (`number`: "int" or "float").
    None when the text does not hold such a value."""
    if text is None:
        return None
    value = " ".join(text.split())
    kind = spec.get("number")
    if kind in ("int", "float"):
        before = spec.get("before") or ""
        rest = value[len(before) :] if before and value.startswith(before) else value
        found = _NUMBER.search(rest)
        if found is None:
            return None
        number = float(found.group().replace(",", ""))
        return int(number) if kind == "int" and number.is_integer() else number
    before, after = spec.get("before") or "", spec.get("after") or ""
    if before and value.startswith(before):
        value = value[len(before) :]
    if after and value.endswith(after):
        value = value[: len(value) - len(after)]
    return value.strip() or None
