"""The matcher on the relocation corpus (tests/relocation/corpus.py), in real Chromium: pages
of Django's admin before and after an upgrade (4.2 LTS → 5.2 LTS) and of Flask-Admin across
its template modes, with decoys. Zero wrong on the whole corpus; at least 95 % correct on
the upgrade pairs. The rule before issue 27 is judged on the same cases, so the corpus can
tell a trusting rule from a careful one."""

from __future__ import annotations

import pytest

from tests.relocation.corpus import Outcome, run, tally

# 425 pages judged in Chromium (about 80 s of a 2-core machine): make test-campaigns, which CI
# runs after make test; the matcher's rules are also table-tested in tests/unit/test_matcher.py.
pytestmark = pytest.mark.campaign


@pytest.fixture(scope="module")
def outcomes(chromium: str) -> list[Outcome]:
    return run(chromium)


def test_the_matcher_never_acts_on_a_wrong_element_in_the_corpus(outcomes: list[Outcome]) -> None:
    wrong = [
        (o.pair.old, o.pair.page, o.pair.old_css, o.decoy, o.chosen)
        for o in outcomes
        if o.rule == "matcher" and o.verdict == "wrong"
    ]
    assert wrong == []


def test_the_matcher_finds_95_percent_of_the_upgrade_pairs(outcomes: list[Outcome]) -> None:
    upgrade = tally(
        outcomes, lambda o: o.rule == "matcher" and o.pair.kind == "upgrade" and o.decoy == "base"
    )
    assert sum(upgrade.values()) >= 40
    assert upgrade["correct"] / sum(upgrade.values()) >= 0.95, upgrade


def test_the_corpus_catches_the_tag_and_text_rule_acting_on_decoys(
    outcomes: list[Outcome],
) -> None:
    old = tally(outcomes, lambda o: o.rule == "tag+text")
    new = tally(outcomes, lambda o: o.rule == "matcher")
    assert old["wrong"] > 0 and new["correct"] > old["correct"]
