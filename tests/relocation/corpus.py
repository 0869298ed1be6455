"""The relocation corpus: element pairs from real applications' versions, each labelled with
its true counterpart, and the decoys a matcher must never take (ARCHITECTURE.md §11).

Pages (tests/relocation/snapshots, made by bench/relocation/capture.py from PyPI packages):
- an upgrade: the help desk of tests/realapp on Django 4.2 LTS's admin, then on Django 5.2
  LTS's (login, index, change list, change form, delete confirmation, an add form);
- theme switches: a shop on Flask-Admin 1.6.1 in its three template modes, bootstrap2 →
  bootstrap3 and bootstrap3 → bootstrap4 (list, create and edit views, a second list).

A pair names the element the recording acted on in the older page and its true counterpart
in the newer one by CSS selectors written for that purpose (they are the label, read off
the pages by hand; each must designate exactly one element). The recorded selector is the
older element's full xpath, as recorders record it.

Each pair is judged on the newer page as it is (`base`) and with a decoy put in it:
- `comment`: user content with a link and a button of the recorded text to another address;
- `second_form`: a second form with a field of the recorded name and label, and a submit
  button of the recorded text;
- `hidden_copies`: copies of the true element (same attributes) in a `hidden` container and
  in an `opacity: 0` one;
- `previous_step`: the true element is not there yet and an exact copy of it is, the element
  the previous action was performed on (a wizard's previous step): the right answer is none.

A rule's answer is correct (the true element; none when there is none), wrong (another
element) or handed over (none although the element is there).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from tests.relocation.serve import manifest, serve_snapshots
from worker.browser.chromium import open_page, warm_chromium
from worker.runtime.identity import (
    CANDIDATES_JS,
    DESCRIBE_JS,
    FOUND_JS,
    FULL_XPATH_JS,
    matches,
)
from worker.runtime.matcher import match

DECOYS = ("base", "comment", "second_form", "hidden_copies", "previous_step")


@dataclass(frozen=True)
class Pair:
    kind: str  # "upgrade" | "theme"
    old: str  # snapshot directories
    new: str
    page: str
    old_css: str
    new_css: str


def _pairs(kind: str, old: str, new: str, page: str, selectors: Sequence[Any]) -> list[Pair]:
    return [Pair(kind, old, new, page, *(s if isinstance(s, tuple) else (s, s))) for s in selectors]


DJANGO = {
    "login": ["#id_username", "#id_password", "#login-form [type=submit]"],
    "index": [
        ".app-shop th a[href='/admin/shop/order/']",
        ".app-shop a[href='/admin/shop/order/add/']",
        ".app-shop a[href='/admin/shop/ticket/add/']",
        ".app-auth th a[href='/admin/auth/user/']",
        "#logout-form button",
    ],
    "changelist": [
        "#searchbar",
        "#changelist-search [type=submit]",
        "select[name=action]",
        "button[name=index]",
        "#action-toggle",
        "#result_list tbody tr:nth-child(3) input[name=_selected_action]",
        "#result_list a[href='/admin/shop/order/3/change/']",
        ".object-tools a[href='/admin/shop/order/add/']",
        "#result_list thead th:nth-child(3) a",
        "nav[aria-label=Breadcrumbs] a[href='/admin/shop/']",
        "#nav-sidebar a[href='/admin/shop/ticket/']",
        "#nav-filter",
        "#logout-form button",
        "a[href='/admin/password_change/']",
    ],
    "change_form": [
        "#id_number",
        "#id_customer",
        "#id_status",
        "#id_total",
        "input[name=_save]",
        "input[name=_addanother]",
        "input[name=_continue]",
        "a.deletelink",
        "a.historylink",
        "#change_id_customer",
    ],
    "delete": [
        "form:not(#logout-form) [type=submit]",
        "form:not(#logout-form) a.cancel-link",
        "ul a[href='/admin/shop/order/1/change/']",
    ],
    "add_ticket": [
        "#id_order",
        "#id_contact_email",
        "#id_subject",
        "#ticket_form input[name=_save]",
        "#ticket_form input[name=_continue]",
        "#add_id_order",
    ],
}
FLASK_ADMIN = {
    "list": [
        "a[href^='/admin/order/new/']",
        "input[name=search]",
        "input[name=rowtoggle]",
        "tbody tr:nth-child(2) input[name=rowid]",
        "a[href='/admin/order/edit/?id=2&url=/admin/order/']",
        "a[href='/admin/order/?sort=2']",
        ".navbar a[href='/admin/customer/']",
    ],
    "create": [
        "#number",
        "#total",
        "#note",
        "input[type=submit][value=Save]",
        "input[name=_add_another]",
        "form a[href='/admin/order/']",
    ],
    "edit": [
        "#number",
        "#total",
        "#note",
        "input[type=submit][value=Save]",
        "input[name=_continue_editing]",
        "form a[href='/admin/order/']",
    ],
    "customers": [
        "a[href^='/admin/customer/new/']",
        "tbody tr:nth-child(1) input[name=rowid]",
        "a[href='/admin/customer/?sort=1']",
    ],
}


def corpus() -> list[Pair]:
    pairs: list[Pair] = []
    for page, selectors in DJANGO.items():
        pairs += _pairs("upgrade", "django-4.2", "django-5.2", page, selectors)
    for old, new in (("bootstrap2", "bootstrap3"), ("bootstrap3", "bootstrap4")):
        for page, selectors in FLASK_ADMIN.items():
            pairs += _pairs("theme", f"flask-admin-{old}", f"flask-admin-{new}", page, selectors)
    return pairs


# Puts one decoy into the page (or none, `base`); returns the true element afterwards, or
# null when there is none (`previous_step` removes it).
DECOY_JS = """([decoy, css, record]) => {
  const truth = document.querySelector(css);
  const main = document.querySelector('main, #content, #content-main, .container, body');
  const text = record.text || record.value || '';
  const add = html => { main.insertAdjacentHTML('afterbegin', html); };
  const esc = s => String(s).replace(/[&<>"']/g, c => '&#' + c.charCodeAt(0) + ';');
  if (decoy === 'comment' && text) {
    add(`<aside class="comment"><p>A customer wrote: <a href="/comments/9/go">${esc(text)}</a>
         <button type="button">${esc(text)}</button></p></aside>`);
  } else if (decoy === 'second_form') {
    const field = record.name || 'email';
    add(`<form action="/newsletter/subscribe/" method="post"><label for="decoy-field">` +
        `${esc(record.label || text || field)}</label><input id="decoy-field" name="${esc(field)}"` +
        ` type="${esc(record.type && record.tag === 'input' ? record.type : 'text')}">` +
        `<button type="submit" name="${esc(record.name || '')}">${esc(text || 'Go')}</button></form>`);
  } else if (decoy === 'hidden_copies') {
    for (const style of ['display: none', 'opacity: 0']) {
      const box = document.createElement('div');
      box.setAttribute('style', style);
      box.appendChild(truth.cloneNode(true));
      truth.parentElement.insertBefore(box, truth);
    }
  } else if (decoy === 'previous_step') {
    const copy = truth.cloneNode(true);
    truth.parentElement.insertBefore(copy, truth);
    truth.remove();
    window.__scriptcacheActed = copy;
    return null;
  }
  return truth;
}"""

# The rule before issue 27 (worker/runtime/identity.py `relocated` and its CANDIDATES_JS):
# the one element of the recorded tag, visible by checkVisibility() (transparent ones
# included), whose text cut to 80 characters equals the recorded one.
OLD_CANDIDATES_JS = """tag => {
  const describe = DESCRIBE;
  const xpath = XPATH;
  return Array.from(document.getElementsByTagName(tag))
    .filter(el => el.checkVisibility())
    .map(el => Object.assign(describe(el), {xpath: xpath(el)}));
}""".replace("DESCRIBE", DESCRIBE_JS).replace("XPATH", FULL_XPATH_JS)


def _cut(text: Any) -> str:
    return " ".join(str(text or "").split())[:80].strip().casefold()


def old_rule(record: dict[str, Any], candidates: list[dict[str, Any]]) -> str | None:
    if not _cut(record.get("text")):
        return None
    hits = [
        c
        for c in candidates
        if c["tag"] == record["tag"] and _cut(c.get("text")) == _cut(record["text"])
    ]
    return hits[0]["xpath"] if len(hits) == 1 else None


@dataclass(frozen=True)
class Outcome:
    pair: Pair
    decoy: str
    rule: str  # "tag+text" | "matcher"
    verdict: str  # "correct" | "wrong" | "handed over"
    chosen: str | None
    truth: str | None
    detail: str = ""
    score: float = 1.0  # the chosen (or best) candidate's score; 1.0 at the selector


def verdict(chosen: str | None, truth: str | None) -> str:
    if chosen == truth:
        return "correct"
    return "handed over" if chosen is None else "wrong"


async def _judge(
    page: Any, pair: Pair, decoy: str, record: dict[str, Any], selector: str
) -> list[Outcome]:
    truth_handle = await page.evaluate_handle(DECOY_JS, [decoy, pair.new_css, record])
    truth = await truth_handle.evaluate(f"el => el ? ({FULL_XPATH_JS})(el) : null")
    at_selector = page.locator(f"xpath={selector}")
    here: dict[str, str | None] = {}
    if await at_selector.count() == 1 and await at_selector.first.evaluate(
        "el => el.checkVisibility()"
    ):
        seen = await at_selector.first.evaluate(FOUND_JS)
        found = seen["element"]
        if matches((found["tag"], found["text"]), (record["tag"], record["text"])):
            # the runtime acts at its selector; since issue 27 not on the previous element
            here["tag+text"] = selector
            if not seen["previous"]:
                here["matcher"] = selector
    if len(here) == 2:
        return [
            Outcome(pair, decoy, rule, verdict(selector, truth), selector, truth) for rule in RULES
        ]
    old = here.get("tag+text") or old_rule(
        record, await page.evaluate(OLD_CANDIDATES_JS, record["tag"])
    )
    candidates = await page.evaluate(CANDIDATES_JS, {"tag": record["tag"], "quietMs": 0})
    new = match(record, candidates)
    return [
        Outcome(pair, decoy, "tag+text", verdict(old, truth), old, truth),
        Outcome(
            pair,
            decoy,
            "matcher",
            verdict(new.xpath, truth),
            new.xpath,
            truth,
            new.describe(),
            new.ranked[0].score if new.ranked else 0.0,
        ),
    ]


RULES = ("tag+text", "matcher")


PAGES = 3  # pairs judged at once, each in a browser context of one Chromium


async def evaluate(
    chromium: str, pairs: Sequence[Pair], decoys: Sequence[str] = DECOYS
) -> list[Outcome]:
    """Every pair under every decoy, judged by both rules, in real Chromium: the pairs in
    PAGES shares, each share in a browser context of its own (the pages are served by
    threads, and a page load waits on them as much as on Chromium)."""
    apps = sorted({p.old for p in pairs} | {p.new for p in pairs})
    with ExitStack() as stack:
        bases = {app: stack.enter_context(serve_snapshots(app)) for app in apps}
        async with warm_chromium(chromium):
            shares = await asyncio.gather(
                *(_evaluate_share(chromium, pairs[i::PAGES], decoys, bases) for i in range(PAGES))
            )
    return [outcome for share in shares for outcome in share]


async def _evaluate_share(
    chromium: str, pairs: Sequence[Pair], decoys: Sequence[str], bases: dict[str, str]
) -> list[Outcome]:
    outcomes: list[Outcome] = []
    async with open_page(chromium) as page:
        for pair in pairs:
            await page.goto(bases[pair.old] + manifest(pair.old)[pair.page]["path"])
            old = page.locator(pair.old_css)
            if await old.count() != 1:
                raise AssertionError(f"{pair}: the old selector designates {await old.count()}")
            record: dict[str, Any] = await old.evaluate(DESCRIBE_JS)
            selector: str = await old.evaluate(FULL_XPATH_JS)
            for decoy in decoys:
                if decoy == "comment" and not (record.get("text") or record.get("value")):
                    continue
                await page.goto(bases[pair.new] + manifest(pair.new)[pair.page]["path"])
                new = page.locator(pair.new_css)
                if await new.count() != 1:
                    raise AssertionError(f"{pair}: the new selector designates {await new.count()}")
                outcomes += await _judge(page, pair, decoy, record, selector)
    return outcomes


def tally(outcomes: Sequence[Outcome], keep: Callable[[Outcome], bool]) -> dict[str, int]:
    counts = {"correct": 0, "wrong": 0, "handed over": 0}
    for o in outcomes:
        if keep(o):
            counts[o.verdict] += 1
    return counts


def run(chromium: str, pairs: Sequence[Pair] | None = None) -> list[Outcome]:
    return asyncio.run(evaluate(chromium, corpus() if pairs is None else pairs))


def groups() -> Iterator[tuple[str, Callable[[Outcome], bool]]]:
    yield (
        "upgrade pairs (Django 4.2 → 5.2)",
        lambda o: o.pair.kind == "upgrade" and o.decoy == "base",
    )
    yield (
        "theme pairs (Flask-Admin bootstrap2→3→4)",
        lambda o: o.pair.kind == "theme" and o.decoy == "base",
    )
    for decoy in DECOYS[1:]:
        yield f"decoy: {decoy}", lambda o, d=decoy: o.decoy == d  # type: ignore[misc]
    yield "whole corpus", lambda o: True
