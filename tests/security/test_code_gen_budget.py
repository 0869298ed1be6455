"""Issue 23, item 5 (suspected): "an event with `code_gen: true` regenerates outside the repair
budget". Confirmed, and kept as the contract asks: `code_gen` is its own reason to regenerate
(ARCHITECTURE.md §3, reason 2: the run asked for it), not an automatic repair (§8), so a
spent repair budget does not hold it back and it does not count against the budget. What the
budget bounds, automatic repairs of runs that did not ask, stays bounded: these tests pin
both sides."""

from __future__ import annotations

from tests.unit.test_decision import ALL_V1, SPENT, V1, fell_back, live, run
from worker.domain.decision import decide


def test_code_gen_regenerates_a_block_that_fell_back_even_with_the_budget_spent() -> None:
    decision = decide(
        run(V1, (fell_back("sign_in", "login", "element"),), code_gen=True),
        live(V1, *ALL_V1),
        repairs=SPENT,
    )

    assert decision.regenerate and "code_gen" in decision.reason
    assert decision.generate == {"sign_in"}
    assert not decision.is_repair  # not counted against the repair budget
    assert decision.held == ""


def test_without_code_gen_the_same_run_is_held_by_the_spent_budget() -> None:
    decision = decide(
        run(V1, (fell_back("sign_in", "login", "element"),)),
        live(V1, *ALL_V1),
        repairs=SPENT,
    )

    assert not decision.regenerate
    assert "repair budget spent" in decision.reason and "sign_in" in decision.held
