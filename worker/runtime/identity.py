"""Which element an action was performed on (actions[].element), defined once (pure).

A recorded selector is often an absolute positional xpath; after a site change it can
designate another element of the same tag (the relabelled "Save" became a `<button>`, and
`.../input[1]` is now "Save and add another"). So recorders describe the element they acted
on as `{"tag", "text"}`, generated scripts pass it as `expect=(tag, text)`, and the runtime
reads the element its selector found and compares before acting.

`DESCRIBE_JS` is the one definition of the descriptor: the recorders (worker/browser/
standin.py, tests/realapp/agent.py) and the replay (worker/browser/page.py) evaluate this
same function on the element, so descriptors compare exactly. `text` is:

- an `<input>` of type submit, button or reset: its value;
- another `<input>`, a `<select>` or a `<textarea>`: its aria-label, else its label's text
  (`label[for=id]`, else a wrapping label, without the controls inside it), else its
  placeholder, else its name attribute;
- anything else: its aria-label, else its innerText;

whitespace collapsed, trimmed, cut to TEXT_CHARS characters; null when empty. Two texts are
the same when they are equal ignoring case and runs of whitespace (`matches`).

The descriptor also finds the element again when a redesign moved it (`relocated`): among the
page's visible elements of the expected tag (CANDIDATES_JS), the one whose text is the
expected text, when exactly one is. The runtime then acts on it at its new xpath without the
agent, and the run's events repair the cache (fallback "relocated", ARCHITECTURE.md §8).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

TEXT_CHARS = 80

DESCRIBE_JS = """el => {
  const squash = s => (s == null ? '' : String(s)).replace(/\\s+/g, ' ').trim();
  const ownText = label => {
    const copy = label.cloneNode(true);
    copy.querySelectorAll('input, select, textarea, button').forEach(c => c.remove());
    return copy.textContent;
  };
  const tag = el.localName.toLowerCase();
  const type = (el.getAttribute('type') || '').toLowerCase();
  let text = '';
  if (tag === 'input' && ['submit', 'button', 'reset'].includes(type)) {
    text = squash(el.value);
  } else if (['input', 'select', 'textarea'].includes(tag)) {
    text = squash(el.getAttribute('aria-label'));
    if (!text) {
      const byFor = el.id ? el.ownerDocument.querySelector(`label[for="${CSS.escape(el.id)}"]`)
                          : null;
      const label = byFor || el.closest('label');
      text = label ? squash(ownText(label)) : '';
    }
    if (!text) text = squash(el.getAttribute('placeholder'));
    if (!text) text = squash(el.getAttribute('name'));
  } else {
    text = squash(el.getAttribute('aria-label')) || squash(el.innerText);
  }
  text = text.slice(0, TEXT_CHARS).trim();
  return {tag: tag, text: text || null};
}""".replace("TEXT_CHARS", str(TEXT_CHARS))

# Chromium's "Copy full XPath": tag names from the root, an index only among same-tag siblings.
FULL_XPATH_JS = """el => {
  const parts = [];
  for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
    let index = 0, count = 0;
    for (const s of (n.parentElement ? n.parentElement.children : [n])) {
      if (s.localName === n.localName) { count++; if (s === n) index = count; }
    }
    parts.unshift(count > 1 ? `${n.localName}[${index}]` : n.localName);
  }
  return '/' + parts.join('/');
}"""

# The visible elements of one tag in the page's document, each with its descriptor and full
# xpath: where the runtime looks for a recorded element its selector no longer designates.
CANDIDATES_JS = """tag => {
  const describe = DESCRIBE;
  const xpath = XPATH;
  return Array.from(document.getElementsByTagName(tag))
    .filter(el => el.checkVisibility())
    .map(el => Object.assign(describe(el), {xpath: xpath(el)}));
}""".replace("DESCRIBE", DESCRIBE_JS).replace("XPATH", FULL_XPATH_JS)
TAG_NAME = re.compile(r"[a-z][a-z0-9-]*")

Descriptor = tuple[str, str | None]  # (tag, text): the `expect` of a generated statement


def normalized(text: str | None) -> str:
    """A text as descriptors compare it: whitespace collapsed, cut like DESCRIBE_JS cuts it,
    case folded."""
    if text is None:
        return ""
    return " ".join(str(text).split())[:TEXT_CHARS].strip().casefold()


def descriptor(value: Any) -> Descriptor | None:
    """A descriptor from its JSON form (`{"tag", "text"}`) or a `(tag, text)` pair."""
    if isinstance(value, Mapping):
        tag, text = value.get("tag"), value.get("text")
    elif isinstance(value, list | tuple) and len(value) == 2:
        tag, text = value
    else:
        return None
    if not isinstance(tag, str) or not tag:
        return None
    return tag.lower(), None if text is None else str(text)


def matches(found: Descriptor, expected: Descriptor) -> bool:
    """Whether the element found is the one expected: the same tag, and the same text when
    a text is expected."""
    if found[0] != expected[0].lower():
        return False
    return expected[1] is None or normalized(found[1]) == normalized(expected[1])


def shown(element: Descriptor) -> str:
    """`<input 'Save'>`, `<a>`: a descriptor in a message."""
    tag, text = element
    return f"<{tag} {text!r}>" if text else f"<{tag}>"


def relocated(candidates: Sequence[Any], expected: Descriptor | None) -> str | None:
    """The xpath of the one candidate (CANDIDATES_JS's items) that is the element expected,
    or None: when nothing names the element (no text expected), when none matches, and when
    several do (two "Delete" links: which one the recording meant cannot be told)."""
    if expected is None or expected[1] is None or not normalized(expected[1]):
        return None
    hits = [
        c
        for c in candidates
        if isinstance(c, Mapping)
        and isinstance(c.get("xpath"), str)
        and (found := descriptor(c)) is not None
        and matches(found, expected)
    ]
    return hits[0]["xpath"] if len(hits) == 1 else None
