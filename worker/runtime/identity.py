"""Which element an action was performed on (actions[].element), defined once (pure).

A recorded selector is often an absolute positional xpath; after a site change it can
designate another element of the same tag (the relabelled "Save" became a `<button>`, and
`.../input[1]` is now "Save and add another"). So recorders describe the element they acted
on (`{"tag", "text", ...}`), generated scripts pass it as `expect=(tag, text, {...})`, and the runtime
reads the element its selector found and compares before acting.

`DESCRIBE_JS` is the one definition of the descriptor: the recorders (worker/browser/
standin.py, tests/realapp/agent.py) and the replay (worker/browser/page.py) evaluate this
same function on the element, so descriptors compare exactly. `text` is:

- an `<input>` of type submit, button or reset: its value;
- another `<input>`, a `<select>` or a `<textarea>`: its aria-label, else its label's text
  (`label[for=id]`, else a wrapping label, without the controls inside it), else its
  placeholder, else its name attribute;
- anything else: its aria-label, else its innerText;

whitespace collapsed, trimmed, kept whole up to TEXT_CHARS (1000) characters; null when
empty. Two texts are the same when they are equal ignoring case and runs of whitespace
(`matches`).

The same function records the rest of the element (ARCHITECTURE.md §11, all optional): `id`,
`name`, `type`, `role`, `aria_label`, `placeholder`, `label` (its label's text), `title`,
`alt`, `href` (path and query; the whole url for another origin), `value` (of a button),
`editable` (a rich-text editor), `form` (`{"action": path, "fields": [names]}`), `landmark`
(LANDMARK_JS), `row` (in a table: its row's first cell with a text, the row's name), `near`
(up to 3 short texts beside it: the heading or legend before it, the text just before it)
and `index` (among the elements of its tag in its landmark). When a selector no longer designates the recorded element, the runtime
gathers the page's visible candidates with CANDIDATES_JS and worker/runtime/matcher.py
decides which one, if any, is the recorded element.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

TEXT_CHARS = 1000  # an element's text is kept whole up to this (events stay small)
LEGACY_TEXT_CHARS = 80  # what recorders cut texts to before issue 27
ATTRIBUTE_CHARS = 200
NEAR_CHARS = 60

# The landmark an element lies in, as text: the tag of a form, dialog, main, nav, header,
# footer, aside, or section or element with a landmark role, with its id (`form#login-form`),
# else its role, else its aria-label (`nav[aria-label="Breadcrumbs"]`); null for any other
# element and for a section with none of them.
LANDMARK_JS = """n => {
  const ROLES = ['form', 'dialog', 'alertdialog', 'main', 'navigation', 'banner',
                 'contentinfo', 'complementary', 'region', 'search'];
  const tag = n.localName;
  const role = n.getAttribute('role');
  const squash = s => (s == null ? '' : String(s)).replace(/\\s+/g, ' ').trim();
  const aria = squash(n.getAttribute('aria-label'));
  if (role ? !ROLES.includes(role)
           : !['form', 'dialog', 'main', 'nav', 'header', 'footer', 'aside', 'section']
               .includes(tag)) return null;
  const id = n.getAttribute('id');  // not n.id: a form's field named "id" shadows it
  if (tag === 'section' && !id && !role && !aria) return null;
  if (id) return `${tag}#${id}`;
  if (role) return `${tag}[role=${role}]`;
  return aria ? `${tag}[aria-label=${JSON.stringify(aria)}]` : tag;
}"""

DESCRIBE_JS = (
    """el => {
  const squash = s => (s == null ? '' : String(s)).replace(/\\s+/g, ' ').trim();
  const cut = (s, n) => (s.length > n ? s.slice(0, n).trim() : s);
  const ownText = label => {
    const copy = label.cloneNode(true);
    copy.querySelectorAll('input, select, textarea, button').forEach(c => c.remove());
    return copy.textContent;
  };
  const path = raw => {
    try {
      const url = new URL(raw, el.ownerDocument.baseURI);
      if (!/^https?:$/.test(url.protocol)) return raw;
      return url.origin === location.origin ? url.pathname + url.search : url.href;
    } catch (e) { return raw; }
  };
  const landmarkOf = LANDMARK_OF;
  const tag = el.localName.toLowerCase();
  const type = (el.getAttribute('type') || '').toLowerCase();
  const field = ['input', 'select', 'textarea'].includes(tag);
  let label = '';
  if (field) {
    const byFor = el.getAttribute('id')
      ? el.ownerDocument.querySelector(`label[for="${CSS.escape(el.getAttribute('id'))}"]`)
      : null;
    const wrapping = byFor || el.closest('label');
    label = wrapping ? squash(ownText(wrapping)) : '';
  }
  let text = '';
  if (tag === 'input' && ['submit', 'button', 'reset'].includes(type)) {
    text = squash(el.value);
  } else if (field) {
    text = squash(el.getAttribute('aria-label')) || label
      || squash(el.getAttribute('placeholder')) || squash(el.getAttribute('name'));
  } else {
    text = squash(el.getAttribute('aria-label')) || squash(el.innerText);
  }
  text = cut(text, TEXT_CHARS);
  const out = {tag: tag, text: text || null};
  const put = (key, value, n) => {
    const v = cut(squash(value), n || ATTRIBUTE_CHARS);
    if (v) out[key] = v;
  };
  put('id', el.getAttribute('id'));
  put('name', el.getAttribute('name'));
  put('type', type);
  put('role', el.getAttribute('role'));
  put('aria_label', el.getAttribute('aria-label'));
  put('placeholder', el.getAttribute('placeholder'));
  put('label', label);
  put('title', el.getAttribute('title'));
  put('alt', el.getAttribute('alt'));
  if (el.hasAttribute('href')) put('href', path(el.getAttribute('href')));
  if (tag === 'button' || (tag === 'input' && ['submit', 'button', 'reset'].includes(type))) {
    put('value', el.getAttribute('value'));
  }
  if (el.isContentEditable && !field) out.editable = true;
  const form = el.form || el.closest('form');
  if (form) {
    const names = new Set();
    for (const c of form.elements) if (c.name) names.add(c.name);
    out.form = {action: path(form.getAttribute('action') || location.href),
                fields: Array.from(names).sort().slice(0, 40)};
  }
  let scope = null;
  for (let n = el.parentElement; n; n = n.parentElement) {
    const mark = landmarkOf(n);
    if (mark) { scope = n; out.landmark = mark; break; }
  }
  const same = (scope || el.ownerDocument).getElementsByTagName(tag);
  out.index = Array.prototype.indexOf.call(same, el);
  const near = [];
  const add = s => {
    const v = cut(squash(s), NEAR_CHARS);
    if (v && v !== out.text && v !== label && v !== out.row && !near.includes(v)
        && near.length < 3) near.push(v);
  };
  const row = el.closest('tr');
  if (row) {  // the row's name: its first cell with a text, other than the element's own
    const cell = Array.from(row.querySelectorAll('th, td'))
      .find(c => !c.contains(el) && squash(c.innerText));
    if (cell) out.row = cut(squash(cell.innerText), NEAR_CHARS);
  }
  const heading = el.ownerDocument.evaluate(
    'preceding::*[self::h1 or self::h2 or self::h3 or self::h4 or self::h5 or self::h6' +
    ' or self::legend or self::caption][1]', el, null, XPathResult.FIRST_ORDERED_NODE_TYPE,
    null).singleNodeValue;
  if (heading) add(heading.innerText || heading.textContent);
  outer: for (let n = el, up = 0; n && up < 3; n = n.parentElement, up++) {
    for (let s = n.previousSibling; s; s = s.previousSibling) {
      const t = s.nodeType === 3 ? s.textContent : (s.nodeType === 1 ? s.innerText : '');
      if (squash(t)) { add(t); break outer; }
    }
  }
  if (near.length) out.near = near;
  return out;
}""".replace("ATTRIBUTE_CHARS", str(ATTRIBUTE_CHARS))
    .replace("NEAR_CHARS", str(NEAR_CHARS))
    .replace("TEXT_CHARS", str(TEXT_CHARS))
    .replace("LANDMARK_OF", LANDMARK_JS)
)

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

# Watches the document's DOM for changes (installed by the runtime as an init script on every
# page, and on the current document the first time it asks): when it last changed.
OBSERVE_JS = """() => {
  if (window.__scriptcacheQuiet) return;
  window.__scriptcacheQuiet = {last: performance.now()};
  new MutationObserver(() => { window.__scriptcacheQuiet.last = performance.now(); })
    .observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
}"""

# Whether the page has settled: loaded, and no change to its DOM for `quietMs` (a document
# the observer was not watching yet counts as changed just then).
_QUIET_JS = """quietMs => {
  (OBSERVE)();
  return document.readyState === 'complete'
    && performance.now() - window.__scriptcacheQuiet.last >= quietMs;
}""".replace("OBSERVE", OBSERVE_JS)

# The element an action is performed on is remembered in its document, and the matcher never
# takes it for the next action's element (worker/runtime/matcher.py): FOUND_JS says whether a
# selector designates it, CANDIDATES_JS marks it among the candidates. The mark costs no round
# trip of its own. The read of an element before an action notes it (NOTE_JS, by DESCRIBED_JS
# and FOUND_JS: `__scriptcacheFound`); once the action was performed, the runtime's next read
# of the page makes the noted element the acted-on one (MARK_JS, `__scriptcacheActed`) before
# it reads anything (`mark`: an action was performed since the last read).
MARK_JS = "mark => { if (mark) window.__scriptcacheActed = window.__scriptcacheFound; }"
NOTE_JS = "el => { window.__scriptcacheFound = el; return el; }"

# The element at a selector as DESCRIBE_JS records it, noted (NOTE_JS).
DESCRIBED_JS = "el => (DESCRIBE)((NOTE)(el))"

# The same, with whether the previous action was performed on it.
FOUND_JS = "el => ({element: (DESCRIBE)((NOTE)(el)), previous: el === window.__scriptcacheActed})"

# Where the runtime looks for a recorded element its selector no longer designates: when the
# page has settled (else null), its visible elements that can be acted on (links, buttons,
# fields, elements with a role, editable or focusable ones) and those of the recorded tag, each
# described, with its full xpath, the landmarks around it (`landmarks`, outermost first) and
# whether the previous action was performed on it (`previous`). Visible: rendered, not
# `visibility: hidden`, not transparent (`opacity: 0` here or above), with an area.
CANDIDATES_JS = """args => {
  (MARK)(args.mark);
  const settled = QUIET;
  if (!settled(args.quietMs)) return null;
  const describe = DESCRIBE;
  const xpath = XPATH;
  const landmarkOf = LANDMARK_OF;
  const seen = new Set();
  const found = [];
  const visible = el => el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true,
                                            opacityProperty: true, visibilityProperty: true})
    && Array.from(el.getClientRects()).some(r => r.width * r.height > 0);
  const pick = list => {
    for (const el of list) {
      if (seen.has(el) || found.length >= MAX) continue;
      seen.add(el);
      if (!visible(el)) continue;
      const item = describe(el);
      const chain = [];
      for (let n = el.parentElement; n; n = n.parentElement) {
        const mark = landmarkOf(n);
        if (mark) chain.unshift(mark);
      }
      item.landmarks = chain;
      item.xpath = xpath(el);
      item.previous = el === window.__scriptcacheActed;
      found.push(item);
    }
  };
  pick(document.querySelectorAll(INTERACTIVE));
  if (args.tag) pick(document.getElementsByTagName(args.tag));
  return found;
}"""
FOUND_JS = FOUND_JS.replace("(NOTE)", f"({NOTE_JS})").replace("DESCRIBE", DESCRIBE_JS)
DESCRIBED_JS = DESCRIBED_JS.replace("(NOTE)", f"({NOTE_JS})").replace("DESCRIBE", DESCRIBE_JS)
INTERACTIVE = (
    "a[href], button, input:not([type=hidden]), select, textarea, summary, label, [role], "
    "[contenteditable]:not([contenteditable=false]), [tabindex], [onclick]"
)
MAX_CANDIDATES = 2000
CANDIDATES_JS = (
    CANDIDATES_JS.replace("(MARK)", f"({MARK_JS})")
    .replace("QUIET", _QUIET_JS)
    .replace("XPATH", FULL_XPATH_JS)
    .replace("LANDMARK_OF", LANDMARK_JS)
    .replace("INTERACTIVE", repr(INTERACTIVE))
    .replace("MAX", str(MAX_CANDIDATES))
    .replace("DESCRIBE", DESCRIBE_JS)
)
TAG_NAME = re.compile(r"[a-z][a-z0-9-]*")
QUIET_MS = 500  # how long the page's DOM stays unchanged before it counts as settled

Descriptor = tuple[str, str | None]  # (tag, text): what the element check compares
# The rest of a recorded element (id, name, label, form, landmark, near, index, ...): what the
# matcher scores candidates against (worker/runtime/matcher.py).
ATTRIBUTES = (
    "id",
    "name",
    "type",
    "role",
    "aria_label",
    "placeholder",
    "label",
    "title",
    "alt",
    "href",
    "value",
    "editable",
    "form",
    "landmark",
    "row",
    "near",
    "index",
)


def normalized(text: str | None) -> str:
    """A text as descriptors compare it: whitespace collapsed, case folded. Never cut (texts
    were cut to 80 characters before issue 27; `matches` reads such records as prefixes)."""
    if text is None:
        return ""
    return " ".join(str(text).split()).casefold()


def descriptor(value: Any) -> Descriptor | None:
    """A descriptor from its JSON form (`{"tag", "text", ...}`), a `(tag, text)` pair or a
    `(tag, text, attributes)` triple (a generated `expect`)."""
    if isinstance(value, Mapping):
        tag, text = value.get("tag"), value.get("text")
    elif isinstance(value, list | tuple) and len(value) in (2, 3):
        tag, text = value[0], value[1]
    else:
        return None
    if not isinstance(tag, str) or not tag:
        return None
    return tag.lower(), None if text is None else str(text)


def record(value: Any) -> dict[str, Any] | None:
    """The whole recorded element (tag, text and its ATTRIBUTES) from its JSON form or a
    generated `expect`; None when it is not one."""
    found = descriptor(value)
    if found is None:
        return None
    extra: Any = value if isinstance(value, Mapping) else (value[2] if len(value) == 3 else {})
    attributes = extra if isinstance(extra, Mapping) else {}
    return {
        "tag": found[0],
        "text": found[1],
        **{k: attributes[k] for k in ATTRIBUTES if attributes.get(k) is not None},
    }


def matches(found: Descriptor, expected: Descriptor) -> bool:
    """Whether the element found is the one expected: the same tag, and the same text when
    a text is expected. A recorded text of exactly 80 characters may have been cut by an
    older recorder: it matches a text it begins."""
    if found[0] != expected[0].lower():
        return False
    if expected[1] is None:
        return True
    want, got = normalized(expected[1]), normalized(found[1])
    if len(" ".join(str(expected[1]).split())) == LEGACY_TEXT_CHARS:
        return got.startswith(want)
    return got == want


def shown(element: Descriptor) -> str:
    """`<input 'Save'>`, `<a>`: a descriptor in a message."""
    tag, text = element
    return f"<{tag} {text!r}>" if text else f"<{tag}>"
