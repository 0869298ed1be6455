"""Conditionals: live themselves; their branches' blocks cached as they execute, and kept."""

from __future__ import annotations

import ast

import pytest

from tests.recordings import sample_runs
from worker.domain.codegen import CarriedBlock, GeneratedScript, block_body, generate_script
from worker.domain.decision import Entry, decide, executed_labels
from worker.domain.run import RunRecord


def first_generation() -> tuple[RunRecord, RunRecord, GeneratedScript]:
    refund_run, support_run = sample_runs()
    return refund_run, support_run, generate_script(refund_run, executed_labels(refund_run), {})


def live_entries(script: GeneratedScript) -> dict[str, Entry]:
    return {label: block.as_entry() for label, block in script.blocks.items()}


def workflow_source(script: GeneratedScript) -> str:
    tree = ast.parse(script.files["main.py"])
    return next(
        ast.unparse(n)
        for n in tree.body
        if isinstance(n, ast.AsyncFunctionDef) and n.name == "run_workflow"
    )


def test_only_the_branch_taken_is_cached_and_the_other_is_left_to_the_agent() -> None:
    _, _, script = first_generation()
    assert "request_refund" in script.blocks and "contact_support" not in script.blocks
    assert "route" not in script.blocks  # a conditional is never a script block
    assert "blocks/contact_support.py" not in script.files
    assert (
        "branch = await ctx.branch('route')\n    if branch == 0:\n"
        "        await request_refund(page, ctx)\n    elif branch == 1:\n"
        "        await ctx.run_agent('contact_support')"
    ) in workflow_source(script)


def test_a_run_taking_branch_b_keeps_branch_a_byte_for_byte() -> None:
    refund_run, support_run, first = first_generation()
    decision = decide(support_run, live_entries(first))
    assert decision.regenerate and decision.generate == {"contact_support"}
    carried = {label: first.carried(label) for label in decision.carry_forward}
    second = generate_script(support_run, decision.generate, carried)

    path = "blocks/request_refund.py"
    assert second.files[path] == first.files[path]
    assert block_body(first.files[path].decode()).encode() in second.files["main.py"]
    kept = second.blocks["request_refund"]
    assert kept.carried and kept.source_workflow_run_id == refund_run.workflow_run_id
    assert kept.as_entry() == first.blocks["request_refund"].as_entry()
    assert not second.blocks["contact_support"].carried
    source = workflow_source(second)
    assert "await request_refund(page, ctx)" in source
    assert "await contact_support(page, ctx)" in source and "run_agent" not in source
    # Both branches are cached now: running the refund branch again teaches nothing.
    assert not decide(refund_run, live_entries(second)).regenerate


def test_a_label_being_generated_ignores_its_carried_entry() -> None:
    refund_run, _, first = first_generation()
    stale = CarriedBlock(first.blocks["sign_in"].as_entry(), first.carried("sign_in").code)
    again = generate_script(refund_run, frozenset({"sign_in"}), {"sign_in": stale})
    assert not again.blocks["sign_in"].carried
    assert again.blocks["sign_in"].code_sha256 == first.blocks["sign_in"].code_sha256


def test_a_carried_entry_whose_definition_changed_is_refused() -> None:
    _, support_run, first = first_generation()
    carried = first.carried("request_refund")
    stale = CarriedBlock(
        Entry(**{**vars(carried.entry), "definition_sha256": "0" * 64}), carried.code
    )
    with pytest.raises(ValueError, match="not executable"):
        generate_script(support_run, frozenset({"contact_support"}), {"request_refund": stale})
