"""Relocation: which element a replay acts on when its recorded selector no longer designates
the recorded one, on pages of real applications' versions (tests/relocation/corpus.py).

    .venv/bin/python bench/bench_relocation.py

For each pair of the corpus (an element of Django 4.2's admin and its counterpart in Django
5.2's; an element of Flask-Admin in one template mode and its counterpart in the next) and
each decoy put into the newer page, the recorded selector (the older element's full xpath)
is tried on the newer page as the runtime tries it, then the rule decides: today's before
issue 27 (the one visible element of the recorded tag with the recorded text, cut to 80
characters) and the matcher (worker/runtime/matcher.py, on the element as DESCRIBE_JS
records it). Each answer is correct, wrong or handed over (to the agent). Prints a Markdown
table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.relocation.corpus import RULES, corpus, groups, run, tally  # noqa: E402


def main() -> None:
    chromium = os.environ.get("SCRIPTCACHE_CHROMIUM_PATH", "/usr/bin/chromium")
    started = time.monotonic()
    pairs = corpus()
    outcomes = run(chromium, pairs)
    print(
        f"{len(pairs)} pairs ({sum(p.kind == 'upgrade' for p in pairs)} upgrade, "
        f"{sum(p.kind == 'theme' for p in pairs)} theme), {len(outcomes) // len(RULES)} "
        f"judgements per rule, {time.monotonic() - started:.0f} s\n"
    )
    print(
        "| set | cases | tag+text: correct / wrong / handed over | matcher: correct / wrong / handed over |"
    )
    print("| --- | ---: | --- | --- |")
    for name, keep in groups():
        cells = []
        for rule in RULES:
            t = tally(outcomes, lambda o, k=keep, r=rule: k(o) and o.rule == r)  # type: ignore[misc]
            cells.append(f"{t['correct']} / {t['wrong']} / {t['handed over']}")
        cases = sum(tally(outcomes, lambda o, k=keep: k(o) and o.rule == RULES[0]).values())  # type: ignore[misc]
        print(f"| {name} | {cases} | {cells[0]} | {cells[1]} |")
    print("\nthe matcher's answers other than correct:")
    for o in outcomes:
        if o.rule == "matcher" and o.verdict != "correct":
            print(
                f"- {o.verdict}: {o.pair.old} {o.pair.page} {o.pair.old_css!r} ({o.decoy}): {o.detail}"
            )


if __name__ == "__main__":
    main()
