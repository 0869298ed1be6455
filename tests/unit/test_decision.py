"""The regeneration decision and the run plan (ARCHITECTURE.md §3), from tables of scenarios."""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from worker.domain.decision import (
    Entry,
    RepairBudget,
    decide,
    executable_labels,
    executed_labels,
    is_executable,
    plan,
    repair_labels,
)
from worker.domain.definition import START_BLOCK, Definition
from worker.domain.run import BlockRun, RunRecord

# --- definitions -----------------------------------------------------------------------------


def _task(label: str, block_type: str = "task", goal: str = "") -> dict[str, Any]:
    return {
        "label": label,
        "block_type": block_type,
        "url": f"https://portal.test/{label}",
        "navigation_goal": goal or f"do {label}",
    }


BASE: dict[str, Any] = {
    "title": "orders",
    "cache_key": "default",
    "parameters": [
        {"key": "orders", "parameter_type": "workflow"},
        {"key": "password", "parameter_type": "credential"},
    ],
    "blocks": [
        _task("sign_in", "login"),
        {
            "label": "each_order",
            "block_type": "for_loop",
            "loop_over": "orders",
            "loop_blocks": [_task("open_order", "navigation"), _task("read_order", "extraction")],
        },
        {
            "label": "route",
            "block_type": "conditional",
            "branches": [
                {"condition": "{{ refund }}", "blocks": [_task("request_refund")]},
                {"condition": None, "blocks": [_task("contact_support")]},
            ],
        },
        {"label": "settle", "block_type": "wait", "seconds": 2},
        {"label": "tidy", "block_type": "code", "code": "x = 1"},
        {"label": "home", "block_type": "goto_url", "url": "https://portal.test/"},
    ],
}


def _variant(edit: Any) -> Definition:
    data = copy.deepcopy(BASE)
    edit(data)
    return Definition.model_validate(data)


V1 = Definition.model_validate(BASE)
# v2: a new top-level block after the others.
V2_NEW = _variant(lambda d: d["blocks"].append(_task("download_invoice", "file_download")))
# v2: the sign-in block's goal was edited.
V2_EDITED = _variant(lambda d: d["blocks"][0].update(navigation_goal="sign in with SSO"))
# v2: the loop gained a cacheable child.
V2_LOOP_CHILD = _variant(lambda d: d["blocks"][1]["loop_blocks"].append(_task("print_receipt")))
# v2: the loop gained a live child only.
V2_LOOP_WAIT = _variant(
    lambda d: d["blocks"][1]["loop_blocks"].append(
        {"label": "breathe", "block_type": "wait", "seconds": 1}
    )
)

REQUIRED_V1 = frozenset({"sign_in", "each_order", "request_refund", "contact_support"})
BRANCH_A_LABELS = frozenset({"sign_in", "each_order", "request_refund"})


def test_the_fixtures_mean_what_the_scenarios_assume() -> None:
    assert V1.required_labels() == REQUIRED_V1
    assert V2_NEW.required_labels() == REQUIRED_V1 | {"download_invoice"}
    assert V2_EDITED.block_hashes()["sign_in"] != V1.block_hashes()["sign_in"]
    assert V2_EDITED.block_hashes()["each_order"] == V1.block_hashes()["each_order"]
    assert V2_LOOP_CHILD.block_hashes()["each_order"] != V1.block_hashes()["each_order"]
    assert V2_LOOP_CHILD.block_hashes()["sign_in"] == V1.block_hashes()["sign_in"]


# --- live revisions --------------------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def entry(
    definition: Definition, label: str, *, signature: bool = True, source: str = "wr_earlier"
) -> Entry:
    block = definition.block(label)
    assert block is not None, label
    return Entry(
        label=label,
        block_type=block.block_type,
        run_signature=f"await {label}(page)" if signature else None,
        code_sha256=_sha(f"code of {label}"),
        definition_sha256=definition.block_hashes()[label],
        source_workflow_run_id=source,
        source_workflow_run_block_id=f"wrb_{label}",
    )


def live(definition: Definition, *labels: str, unsigned: tuple[str, ...] = ()) -> dict[str, Entry]:
    """A live revision built from `definition` with entries for `labels`, plus the
    orchestrator (whose run_signature is always null)."""
    entries = {START_BLOCK: Entry(START_BLOCK, START_BLOCK, None, _sha("main"), None)}
    entries.update({label: entry(definition, label) for label in labels})
    entries.update({label: entry(definition, label, signature=False) for label in unsigned})
    return entries


# --- recorded runs ---------------------------------------------------------------------------


def block(
    label: str,
    block_type: str,
    with_: str = "agent",
    status: str = "completed",
    children: tuple[BlockRun, ...] = (),
    fallback: str = "none",
) -> BlockRun:
    return BlockRun(
        workflow_run_block_id=f"wrb_{label}",
        label=label,
        block_type=block_type,
        status=status,
        executed_with=with_,
        children=children,
        fallback=fallback,
    )


def fell_back(
    label: str, block_type: str, fallback: str = "element", status: str = "completed"
) -> BlockRun:
    """A cached block whose code needed the agent: for one action (element, it still ran
    from code) or for the whole block (block: the agent ran it)."""
    return block(
        label, block_type, "agent" if fallback == "block" else "code", status, fallback=fallback
    )


def child(
    label: str, block_type: str, index: int, with_: str = "agent", fallback: str = "none"
) -> BlockRun:
    return BlockRun(
        workflow_run_block_id=f"wrb_{label}_{index}",
        label=label,
        block_type=block_type,
        status="completed",
        executed_with=with_,
        parent_workflow_run_block_id="wrb_each_order",
        loop_index=index,
        loop_value=f"A-{index}",
        fallback=fallback,
    )


def loop(
    with_: str = "agent",
    children_with: str = "agent",
    extra: tuple[BlockRun, ...] = (),
    status: str = "completed",
) -> BlockRun:
    kids = tuple(
        c
        for i in range(2)
        for c in (
            child("open_order", "navigation", i, children_with),
            child("read_order", "extraction", i, children_with),
        )
    )
    return block("each_order", "for_loop", with_, status, kids + extra)


def branch_run(branch: str, with_: str = "agent") -> tuple[BlockRun, ...]:
    """Every top-level block, taking `branch` of the conditional; cacheable ones ran `with_`,
    live ones (conditional, wait, code, goto_url) always ran live, i.e. with the agent."""
    return (
        block("sign_in", "login", with_),
        loop(with_, with_),
        block("route", "conditional"),
        block(branch, "task", with_),
        block("settle", "wait"),
        block("tidy", "code"),
        block("home", "goto_url"),
    )


def run(
    definition: Definition,
    blocks: tuple[BlockRun, ...],
    status: str = "completed",
    code_gen: bool = False,
    run_id: str = "wr_now",
) -> RunRecord:
    return RunRecord(
        workflow_run_id=run_id,
        workflow_permanent_id="wpid_orders",
        workflow_version=1,
        definition=definition,
        parameters={"orders": ["A"]},
        code_gen=code_gen,
        status=status,
        blocks=blocks,
    )


# --- the decision table ----------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    regenerate: bool
    generate: frozenset[str] = frozenset()
    carry_forward: frozenset[str] | None = None  # checked when given


def no() -> Expect:
    return Expect(False)


def yes(*generate: str, carry: tuple[str, ...] | None = None) -> Expect:
    return Expect(True, frozenset(generate), None if carry is None else frozenset(carry))


ALL_V1 = ("sign_in", "each_order", "request_refund", "contact_support")
A_ONLY = ("sign_in", "each_order", "request_refund")

SCENARIOS = [
    pytest.param(
        run(V1, branch_run("request_refund")),
        None,
        yes(*A_ONLY, carry=()),
        id="first run without a live revision generates what executed",
    ),
    pytest.param(
        run(V1, branch_run("request_refund")),
        live(V1, *A_ONLY),
        no(),
        id="the same blocks run twice regenerate nothing",
    ),
    pytest.param(
        run(V1, branch_run("request_refund")),
        live(V1, *ALL_V1),
        no(),
        id="a fully cached workflow the platform ran with the agent (no fallback) "
        "regenerates nothing",
    ),
    pytest.param(
        run(V2_NEW, (*branch_run("request_refund"), block("download_invoice", "file_download"))),
        live(V1, *ALL_V1),
        yes("download_invoice", carry=ALL_V1),
        id="a new block added and executed regenerates only its label",
    ),
    pytest.param(
        run(V2_NEW, branch_run("request_refund")),
        live(V1, *ALL_V1),
        no(),
        id="a new block added but not executed regenerates nothing",
    ),
    # The conditional, step by step: A, then B, then A again.
    pytest.param(
        run(V1, branch_run("request_refund")),
        None,
        yes(*A_ONLY),
        id="conditional run 1 takes branch A and regenerates",
    ),
    pytest.param(
        run(V1, branch_run("contact_support")),
        live(V1, *A_ONLY),
        yes("contact_support", carry=A_ONLY),
        id="conditional run 2 takes branch B and regenerates carrying A forward",
    ),
    pytest.param(
        run(V1, branch_run("request_refund")),
        live(V1, *ALL_V1),
        no(),
        id="conditional run 3 takes branch A again and regenerates nothing",
    ),
    pytest.param(
        run(V1, branch_run("request_refund", with_="code")),
        live(V1, *ALL_V1),
        no(),
        id="live blocks executed with the agent around cached code are no reason",
    ),
    pytest.param(
        run(
            V1,
            (
                block("route", "conditional"),
                block("settle", "wait"),
                block("tidy", "code"),
                block("home", "goto_url"),
            ),
        ),
        live(V1),
        no(),
        id="only non-cacheable blocks executed with a revision missing everything",
    ),
    pytest.param(
        run(
            V1,
            (
                block("route", "conditional"),
                block("settle", "wait"),
                block("tidy", "code"),
                block("home", "goto_url"),
            ),
        ),
        None,
        no(),
        id="only non-cacheable blocks executed and no live revision",
    ),
    pytest.param(
        run(V1, (block("sign_in", "login"),), status="completed"),
        None,
        yes("sign_in"),
        id="a run that stopped after its first block generates that block only",
    ),
    pytest.param(
        run(V1, (block("sign_in", "login"),), status="running"),
        live(V1, "sign_in"),
        no(),
        id="a run still going with only cached blocks so far regenerates nothing",
    ),
    pytest.param(
        run(
            V1,
            (block("sign_in", "login", "code"), block("each_order", "for_loop", status="failed")),
            status="completed",
        ),
        live(V1, "sign_in"),
        no(),
        id="a block that failed inside a completed run is no reason",
    ),
    pytest.param(
        run(V2_EDITED, branch_run("request_refund")),
        live(V1, *ALL_V1),
        yes("sign_in", carry=("each_order", "request_refund", "contact_support")),
        id="a block whose definition changed regenerates when it next executes",
    ),
    pytest.param(
        run(V2_EDITED, (block("route", "conditional"),), status="running"),
        live(V1, *ALL_V1),
        no(),
        id="a block whose definition changed regenerates nothing until it executes",
    ),
    pytest.param(
        run(
            V2_LOOP_CHILD,
            (
                block("sign_in", "login", "code"),
                loop("code", "code", extra=(child("print_receipt", "task", 0, "agent"),)),
            ),
            status="running",
        ),
        live(V1, *ALL_V1),
        yes("each_order"),
        id="a loop child run with the agent for the first time regenerates the loop",
    ),
    pytest.param(
        run(
            V1,
            (
                block("sign_in", "login", "code"),
                loop("code", "code", extra=(child("open_order", "navigation", 2, "agent"),)),
            ),
            status="running",
        ),
        live(V1, *ALL_V1),
        yes("each_order", carry=("sign_in", "request_refund", "contact_support")),
        id="a cached loop whose child fell back to the agent regenerates the loop",
    ),
    pytest.param(
        run(V1, (block("sign_in", "login", "code"), loop("agent", "agent"))),
        live(V1, *ALL_V1),
        no(),
        id="a cached loop run entirely with the agent (run_with agent) is no reason",
    ),
    pytest.param(
        run(V2_LOOP_WAIT, (loop("code", "code", extra=(child("breathe", "wait", 0, "agent"),)),)),
        live(V1, *ALL_V1),
        no(),
        id="a live loop child run with the agent does not make the loop executed",
    ),
    pytest.param(
        run(V1, (block("sign_in", "login", "code"), loop("code", "code"))),
        live(V1, *ALL_V1),
        no(),
        id="a loop run entirely from code regenerates nothing",
    ),
    pytest.param(
        run(V1, branch_run("request_refund", with_="code"), code_gen=True),
        live(V1, *ALL_V1),
        Expect(True, frozenset()),
        id="code_gen regenerates even when everything is cached",
    ),
    pytest.param(
        run(V1, branch_run("contact_support"), code_gen=True),
        live(V1, *ALL_V1),
        yes("sign_in", "each_order", "contact_support", carry=("request_refund",)),
        id="code_gen regenerates what executed with the agent",
    ),
    *[
        pytest.param(
            run(
                V2_NEW,
                (*branch_run("contact_support"), block("download_invoice", "file_download")),
                status=status,
                code_gen=code_gen,
            ),
            live_revision,
            no(),
            id=f"a {status} run generates nothing ({label})",
        )
        for status in ("failed", "canceled", "timed_out", "terminated")
        for code_gen, live_revision, label in (
            (False, live(V1, *A_ONLY), "new blocks executed"),
            (False, None, "no live revision"),
            (True, live(V1, *ALL_V1), "code_gen asked"),
        )
    ],
    pytest.param(
        run(V1, branch_run("request_refund", with_="code")),
        live(V1, *A_ONLY),
        no(),
        id="blocks that ran from code regenerate nothing",
    ),
    pytest.param(
        run(V1, branch_run("request_refund")),
        live(V1, unsigned=A_ONLY),
        yes(*A_ONLY),
        id="entries without a run signature are not executable",
    ),
]


# --- repair, the fourth reason (ARCHITECTURE.md §8) -----------------------------------------

CACHED_REST = (
    block("sign_in", "login", "code"),
    loop("code", "code"),
    block("route", "conditional"),
)
SPENT = RepairBudget(used=10, per_day=10)

REPAIRS = [
    pytest.param(
        run(V1, (fell_back("sign_in", "login", "element"), loop("code", "code"))),
        live(V1, *ALL_V1),
        RepairBudget(),
        yes("sign_in", carry=("each_order", "request_refund", "contact_support")),
        "repair",
        id="a cached top-level block with an element fallback is repaired alone",
    ),
    pytest.param(
        run(V1, (fell_back("sign_in", "login", "relocated"), loop("code", "code"))),
        live(V1, *ALL_V1),
        RepairBudget(),
        yes("sign_in", carry=("each_order", "request_refund", "contact_support")),
        "repair: cached blocks fell back: sign_in",
        id="a cached block whose moved elements were found again is repaired",
    ),
    pytest.param(
        run(
            V1,
            (
                block("sign_in", "login", "code"),
                loop(
                    "code",
                    "code",
                    extra=(child("read_order", "extraction", 2, "code", fallback="relocated"),),
                ),
            ),
        ),
        live(V1, *ALL_V1),
        RepairBudget(),
        yes("each_order", carry=("sign_in", "request_refund", "contact_support")),
        "each_order",
        id="a loop child relocated repairs its loop",
    ),
    pytest.param(
        run(V1, (fell_back("sign_in", "login", "block"), loop("code", "code"))),
        live(V1, *ALL_V1),
        RepairBudget(),
        yes("sign_in"),
        "sign_in",
        id="a cached top-level block whose code failed (block fallback) is repaired",
    ),
    pytest.param(
        run(V1, (*CACHED_REST, fell_back("request_refund", "task", "element"))),
        live(V1, *ALL_V1),
        RepairBudget(),
        yes("request_refund", carry=("sign_in", "each_order", "contact_support")),
        "request_refund",
        id="a cached branch block that fell back is repaired, the other branch kept",
    ),
    pytest.param(
        run(
            V1,
            (
                block("sign_in", "login", "code"),
                loop(
                    "code",
                    "code",
                    extra=(child("read_order", "extraction", 2, "code", fallback="element"),),
                ),
            ),
        ),
        live(V1, *ALL_V1),
        RepairBudget(),
        yes("each_order", carry=("sign_in", "request_refund", "contact_support")),
        "each_order",
        id="a loop child with an element fallback repairs its loop",
    ),
    pytest.param(
        run(
            V1,
            (
                block("sign_in", "login", "code"),
                loop(
                    "code",
                    "code",
                    extra=(child("open_order", "navigation", 2, "agent", fallback="block"),),
                ),
            ),
        ),
        live(V1, *ALL_V1),
        RepairBudget(),
        yes("each_order"),
        "repair",
        id="a loop child whose code failed repairs its loop as a repair",
    ),
    pytest.param(
        run(
            V1,
            (
                block("sign_in", "login", "code"),
                block("each_order", "for_loop", "code", fallback="element"),
            ),
        ),
        live(V1, *ALL_V1),
        RepairBudget(),
        no(),
        "",
        id="a loop that fell back without any recorded child is not repaired from it",
    ),
    pytest.param(
        run(V1, (fell_back("sign_in", "login", "element", status="failed"),)),
        live(V1, *ALL_V1),
        RepairBudget(),
        no(),
        "",
        id="a block that fell back and still failed is no reason",
    ),
    pytest.param(
        run(V1, (fell_back("sign_in", "login", "element"),), status="failed"),
        live(V1, *ALL_V1),
        RepairBudget(),
        no(),
        "failed",
        id="a failed run repairs nothing",
    ),
    pytest.param(
        run(V1, (fell_back("sign_in", "login", "element"),)),
        live(V1, "each_order"),
        RepairBudget(),
        no(),
        "",
        id="a fallback of a block without an executable entry is no repair",
    ),
    pytest.param(
        run(V1, (fell_back("sign_in", "login", "element"), loop("code", "code"))),
        live(V1, *ALL_V1),
        SPENT,
        no(),
        "SCRIPTCACHE_REPAIRS_PER_DAY=10",
        id="a spent repair budget writes nothing and the reason says so",
    ),
    pytest.param(
        run(V1, (fell_back("sign_in", "login", "element"), loop("code", "code"))),
        live(V1, *ALL_V1),
        RepairBudget(used=9, per_day=10),
        yes("sign_in"),
        "repair",
        id="the last repair of the budget is still made",
    ),
    pytest.param(
        run(
            V2_NEW,
            (
                fell_back("sign_in", "login", "element"),
                loop("code", "code"),
                block("download_invoice", "file_download"),
            ),
        ),
        live(V1, *ALL_V1),
        SPENT,
        yes("download_invoice"),
        "budget spent",
        id="a spent budget still lets a new block in, not the repair",
    ),
    pytest.param(
        run(V1, (fell_back("sign_in", "login", "element"),), code_gen=True),
        live(V1, *ALL_V1),
        SPENT,
        yes("sign_in"),
        "code_gen",
        id="code_gen regenerates a block that fell back even when the budget is spent",
    ),
]


@pytest.mark.parametrize(("record", "live_revision", "budget", "expect", "says"), REPAIRS)
def test_the_repair_decision(
    record: RunRecord,
    live_revision: Mapping[str, Entry] | None,
    budget: RepairBudget,
    expect: Expect,
    says: str,
) -> None:
    decision = decide(record, live_revision, repairs=budget)

    assert decision.regenerate is expect.regenerate, decision.reason
    assert decision.generate == expect.generate
    assert says in decision.reason
    if expect.carry_forward is not None:
        assert decision.carry_forward == expect.carry_forward
    assert decision.repair <= decision.generate
    assert decision.is_repair is ("repair:" in decision.reason)
    assert bool(decision.held) is ("repair budget spent" in decision.reason)
    assert decision.held in decision.reason
    assert decision.generate <= decision.executed | repair_labels(record)
    assert not decision.generate & decision.carry_forward


def test_one_site_change_costs_one_run_with_fallbacks() -> None:
    """Repair, then the next run from code regenerates nothing; a budget of two stops the
    third repair within a day from writing."""
    current = live(V1, *ALL_V1)
    broken = run(
        V1, (fell_back("sign_in", "login", "element"), loop("code", "code")), run_id="wr_2"
    )
    first = decide(broken, current, repairs=RepairBudget(used=0, per_day=2))
    current = next_revision(V1, current, first, "wr_2")
    clean = decide(run(V1, (block("sign_in", "login", "code"), loop("code", "code"))), current)
    again = decide(broken, current, repairs=RepairBudget(used=2, per_day=2))

    assert (first.regenerate, first.generate, first.is_repair) == (True, {"sign_in"}, True)
    assert current["sign_in"].source_workflow_run_id == "wr_2"
    assert (clean.regenerate, clean.reason) == (False, "every executed block is already cached")
    assert (again.regenerate, again.generate) == (False, frozenset())
    assert "repair budget spent: 2 repair revisions" in again.reason


@pytest.mark.parametrize(("record", "live_revision", "expect"), SCENARIOS)
def test_the_regeneration_decision(
    record: RunRecord, live_revision: Mapping[str, Entry] | None, expect: Expect
) -> None:
    decision = decide(record, live_revision)

    assert decision.regenerate is expect.regenerate, decision.reason
    assert decision.generate == expect.generate
    assert decision.reason
    if expect.carry_forward is not None:
        assert decision.carry_forward == expect.carry_forward
    # Invariants of every decision.
    assert decision.generate <= decision.executed | repair_labels(record)
    assert not decision.generate & decision.carry_forward
    assert START_BLOCK not in decision.carry_forward


# --- the conditional over successive revisions -----------------------------------------------


def next_revision(
    definition: Definition, current: Mapping[str, Entry] | None, decision: Any, run_id: str
) -> dict[str, Entry]:
    """What publishing would make live: carried entries unchanged, fresh ones for `generate`."""
    assert current is not None or not decision.carry_forward
    revision = live(definition)
    revision.update({label: current[label] for label in decision.carry_forward} if current else {})
    revision.update({label: entry(definition, label, source=run_id) for label in decision.generate})
    return revision


def test_branch_a_then_b_then_a_regenerates_twice_and_keeps_a_cached() -> None:
    current: dict[str, Entry] | None = None
    outcomes = []
    for run_id, branch in (
        ("wr_1", "request_refund"),
        ("wr_2", "contact_support"),
        ("wr_3", "request_refund"),
    ):
        decision = decide(run(V1, branch_run(branch), run_id=run_id), current)
        outcomes.append((decision.regenerate, decision.generate, decision.carry_forward))
        if decision.regenerate:
            current = next_revision(V1, current, decision, run_id)

    assert outcomes == [
        (True, frozenset(A_ONLY), frozenset()),
        (True, frozenset({"contact_support"}), frozenset(A_ONLY)),
        (False, frozenset(), frozenset(ALL_V1)),
    ]
    assert current is not None
    assert current["request_refund"].source_workflow_run_id == "wr_1"
    assert current["contact_support"].source_workflow_run_id == "wr_2"
    assert plan(V1, current).mode == "code"


def test_an_edited_block_is_planned_for_the_agent_until_it_regenerates() -> None:
    current = live(V1, *ALL_V1)

    before = plan(V2_EDITED, current)
    decision = decide(run(V2_EDITED, branch_run("request_refund")), current)
    after = plan(V2_EDITED, next_revision(V2_EDITED, current, decision, "wr_edit"))

    assert (before.mode, before.blocks["sign_in"], before.missing) == (
        "agent",
        "agent",
        ("sign_in",),
    )
    assert before.blocks["each_order"] == "code"
    assert decision.generate == {"sign_in"}
    assert (after.mode, after.blocks["sign_in"], after.missing) == ("code", "code", ())


# --- the predicate and the label sets --------------------------------------------------------


def test_an_entry_is_executable_only_with_a_signature_and_the_current_definition_hash() -> None:
    hashes = V1.block_hashes()
    good = entry(V1, "sign_in")

    assert is_executable(good, hashes)
    assert not is_executable(entry(V1, "sign_in", signature=False), hashes)
    assert not is_executable(entry(V1, "sign_in"), V2_EDITED.block_hashes())
    assert not is_executable(Entry("sign_in", "login", "await sign_in(page)", None, None), hashes)
    assert not is_executable(
        Entry("gone", "task", "await gone(page)", None, hashes["sign_in"]), hashes
    )


def test_executed_labels_are_completed_cacheable_blocks_that_ran_with_the_agent() -> None:
    record = run(
        V1,
        (
            block("sign_in", "login", "code"),
            loop("code", "agent"),
            block("route", "conditional"),
            block("request_refund", "task", status="failed"),
            block("settle", "wait"),
        ),
    )

    assert executed_labels(record) == {"each_order"}


def test_missing_labels_are_required_labels_without_an_executable_entry() -> None:
    def missing_labels(definition: Definition, live: Mapping[str, Entry] | None) -> frozenset[str]:
        return definition.required_labels() - executable_labels(definition, live)

    assert missing_labels(V1, None) == REQUIRED_V1
    assert missing_labels(V1, live(V1, "sign_in", unsigned=("each_order",))) == {
        "each_order",
        "request_refund",
        "contact_support",
    }
    assert missing_labels(V2_EDITED, live(V1, *ALL_V1)) == {"sign_in"}


# --- the run plan ----------------------------------------------------------------------------

LIVE_BLOCKS = ("route", "settle", "tidy", "home")

PLANS = [
    pytest.param(V1, live(V1, *ALL_V1), "code", (), id="every required label executable: code"),
    pytest.param(
        V1,
        live(V1, "sign_in", "each_order", "request_refund"),
        "agent",
        ("contact_support",),
        id="one branch block missing: agent naming it",
    ),
    pytest.param(
        V1,
        live(V1, "each_order", "request_refund", "contact_support"),
        "agent",
        ("sign_in",),
        id="one top-level block missing: agent naming it",
    ),
    pytest.param(
        V1,
        live(V1, "sign_in", "each_order", unsigned=("request_refund", "contact_support")),
        "agent",
        ("request_refund", "contact_support"),
        id="entries without a signature count as missing",
    ),
    pytest.param(V1, None, "agent", ALL_V1, id="no live revision: agent"),
    pytest.param(
        V2_NEW,
        live(V1, *ALL_V1),
        "agent",
        ("download_invoice",),
        id="a block added in a new version is missing",
    ),
    pytest.param(
        V2_LOOP_CHILD,
        live(V1, *ALL_V1),
        "agent",
        ("each_order",),
        id="a loop whose children changed is missing",
    ),
]


@pytest.mark.parametrize(("definition", "live_revision", "mode", "missing"), PLANS)
def test_the_run_plan(
    definition: Definition,
    live_revision: Mapping[str, Entry] | None,
    mode: str,
    missing: tuple[str, ...],
) -> None:
    result = plan(definition, live_revision)

    assert result.mode == mode
    assert result.missing == missing
    if live_revision is None:
        assert "no live revision" in result.reason
    else:
        assert all(label in result.reason for label in missing)
    for label in definition.required_labels():
        assert result.blocks[label] == ("agent" if label in missing else "code")
    assert all(result.blocks[label] == "agent" for label in LIVE_BLOCKS)


def test_the_plan_speaks_of_top_level_and_branch_blocks_but_not_loop_children() -> None:
    result = plan(V1, live(V1, *ALL_V1))

    assert list(result.blocks) == [
        "sign_in",
        "each_order",
        "route",
        "request_refund",
        "contact_support",
        "settle",
        "tidy",
        "home",
    ]
    assert result.as_json() == {
        "mode": "code",
        "blocks": result.blocks,
        "missing": [],
        "reason": result.reason,
    }


def test_conditionals_and_live_blocks_are_agent_even_with_entries_for_them() -> None:
    hashes = V1.block_hashes()
    odd = {
        label: Entry(
            label,
            V1.block(label).block_type,  # type: ignore[union-attr]
            f"await {label}(page)",
            None,
            hashes[label],
        )
        for label in LIVE_BLOCKS
    }

    result = plan(V1, {**live(V1, *ALL_V1), **odd})

    assert result.mode == "code"
    assert {label: result.blocks[label] for label in LIVE_BLOCKS} == dict.fromkeys(
        LIVE_BLOCKS, "agent"
    )
