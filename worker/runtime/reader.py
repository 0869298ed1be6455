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

from worker.runtime.identity import DESCRIBE_JS, FULL_XPATH_JS, normalized

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
  const controls = Array.from(document.querySelectorAll('input, select, textarea'))
    .filter(el => !['hidden', 'password'].includes((el.type || '').toLowerCase()));
  const out = [];
  for (const v of args.values) {
    const control = controls.find(el => el.checkVisibility() && find(squash(el.value), v)
                                        && squash(el.value).length <= v.text.length + 40);
    if (control) {
      const t = squash(control.value), at = find(t, v);
      out.push({key: v.key, xpath: xpath(control), element: describe(control),
                attribute: 'value', before: t.slice(0, at[0]), after: t.slice(at[0] + at[1])});
      continue;
    }
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
                attribute: null, before: best.before, after: best.after});
    }
  }
  return out;
}""".replace("DESCRIBE", DESCRIBE_JS)
    .replace("XPATH", FULL_XPATH_JS)
    .replace("MAX_ELEMENTS", str(MAX_ELEMENTS))
)


# What the runtime reads off the elements at a reader's xpaths, in one round trip: for each,
# its descriptor and a form control's current value (null where the xpath finds nothing).
READ_JS = (
    """xpaths => xpaths.map(xpath => {
  let el = null;
  try {
    el = document.evaluate(xpath, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null)
      .singleNodeValue;
  } catch (e) { return null; }
  if (!el || el.nodeType !== 1) return null;
  return {element: (DESCRIBE)(el),
          value: ['input', 'select', 'textarea'].includes(el.localName) ? el.value : null};
})"""
).replace("DESCRIBE", DESCRIBE_JS)
# The attributes that, when the recording has them, the element at a reader's selector must
# share to be read without the matcher.
STABLE = ("id", "name", "label", "aria_label", "row")


def same_element(recorded: Mapping[str, Any], found: Mapping[str, Any]) -> bool:
    """Whether the element at a reader's recorded selector is the recorded one: the same tag,
    the same stable attributes (STABLE) where the recording has them, and at least one of them
    or one of its texts beside it (`near`) to go by. Anything less goes to the matcher."""
    if str(found.get("tag", "")).lower() != str(recorded.get("tag", "")).lower():
        return False
    keys = [k for k in STABLE if recorded.get(k)]
    if any(normalized(recorded[k]) != normalized(found.get(k)) for k in keys):
        return False
    if keys:
        return True
    near = {normalized(t) for t in recorded.get("near") or ()}
    return bool(near & {normalized(t) for t in found.get("near") or ()})


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
