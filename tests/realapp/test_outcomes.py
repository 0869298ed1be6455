"""A replay knows whether each block did its job (ARCHITECTURE.md §12), on the real application,
judged by its own database: a wrong password fails `sign_in` itself with nothing changed; the
extractions read the same fields as the agent's run off other records, without an extractor;
after a restyle (a record retitled, its fields moved into a card), one replay with the agent
repairs the checks and the readers, and the next replay needs neither agent nor matcher."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tests.realapp.agent import DeskAgent
from tests.realapp.app import DeskApp
from tests.realapp.fidelity import (
    SELECTOR_TIMEOUT_S,
    Cache,
    LiveBlocks,
    as_clerk,
    changes,
    record,
    replay,
)
from tests.realapp.workflows import Inputs
from tests.support.browser import run_async
from worker.browser.journal import ReplayResult
from worker.browser.replay import Hooks, replay_revision

OTHER_ORDERS = ("SO-1002", "SO-1005")


def as_admin(desk: DeskApp, target: str, customer: str) -> Inputs:
    return Inputs("admin", desk.users.admin_password, OTHER_ORDERS, customer, target, "refund")


def as_clerk_again(desk: DeskApp, target: str, customer: str) -> Inputs:
    """The recorded user with other records: the pages have the shape the agent saw (the
    admin may change a customer, so the admin's customer page is a form, not a card)."""
    return Inputs("clerk", desk.users.clerk_password, OTHER_ORDERS, customer, target, "refund")


def without_extractor(chromium: str, cache: Cache, inputs: Inputs, **given: Any) -> ReplayResult:
    """The live revision replayed with no extractor hook and no agent: what it extracts, its
    readers read."""
    files, definition, _ = cache.live()
    return run_async(
        replay_revision(
            files,
            definition,
            inputs.parameters(),
            given.get("credentials", inputs.credentials()),
            chromium_path=chromium,
            hooks=Hooks(block_hook=LiveBlocks(definition)),
            selector_timeout_s=SELECTOR_TIMEOUT_S,
        )
    )


def read(result: ReplayResult, label: str) -> list[Any]:
    return [value for block, _, value in result.extracted if block == label]


def test_a_wrong_password_fails_sign_in_and_nothing_changes(
    chromium: str, desk: DeskApp, cache: Cache
) -> None:
    cache.record(record(chromium, desk, "run_clerk", as_clerk(desk, "refund", "SO-1003")))
    code = cache.live()[0]["blocks/sign_in.py"].decode()
    assert "await page.expect_outcome(path='/admin/'" in code
    before = desk.state()

    result = without_extractor(
        chromium,
        cache,
        as_admin(desk, "SO-1006", "Alan Turing"),
        credentials={"password": "not-the-password"},
    )

    assert result.exit_status == 1
    assert [(b.label, b.outcome) for b in result.blocks] == [("sign_in", "failed")]
    assert "block 'sign_in' did not do its job" in (result.blocks[0].detail or "")
    after = desk.state()
    assert changes(before, after) == ({}, (), [])
    assert after.last_login == before.last_login


def test_the_readers_read_other_records_as_the_agent_did_without_an_extractor(
    chromium: str, desk: DeskApp, cache: Cache
) -> None:
    cache.record(record(chromium, desk, "run_clerk", as_clerk(desk, "refund", "SO-1003")))
    files = cache.live()[0]
    assert "page.read(" in files["blocks/each_order.py"].decode()
    assert "page.read(" in files["blocks/read_contact.py"].decode()
    before = desk.state()

    result = without_extractor(chromium, cache, as_clerk_again(desk, "SO-1006", "Alan Turing"))

    assert result.exit_status == 0, result.as_json()
    assert result.fallback_count() == 0 and result.unread == ()
    assert read(result, "read_order") == [
        {"status": before.orders[n].status, "total": before.orders[n].total} for n in OTHER_ORDERS
    ]
    assert read(result, "read_contact") == [{"email": "alan@bletchley.test"}]


def test_after_a_restyle_one_run_with_the_agent_repairs_checks_and_readers(
    chromium: str, desk: DeskApp, cache: Cache
) -> None:
    cache.record(record(chromium, desk, "run_clerk", as_clerk(desk, "refund", "SO-1003")))
    old_code = cache.live()[0]["blocks/read_contact.py"].decode()
    desk.switch("restyle")  # a record's fields move into a card: every xpath moves
    before = desk.state()

    repairing = replay(
        chromium,
        cache,
        as_clerk_again(desk, "SO-1006", "Alan Turing"),
        "run_fix",
        agent=DeskAgent(),
    )

    repairing.result.raise_for_error()
    # read_order stays on its page: its title is its check, and the restyle changed it; the
    # agent reads the order again and its run is the new recording
    handed = [label for kind, label in repairing.agent.calls if kind == "run_block"]
    assert handed == ["read_order", "read_order"]
    # read_contact's field moved: the extractor read it, and the run records its new place
    repaired_blocks = {e.get("label"): e.get("fallback") for e in repairing.events}
    assert repaired_blocks["read_contact"] == "element"
    order = before.orders["SO-1006"]
    assert changes(before, desk.state())[0] == {
        "SO-1006": (order, replace(order, status="refunded"))
    }
    cache.record(repairing.events)
    files = cache.live()[0]
    assert files["blocks/read_contact.py"].decode() != old_code
    assert "title=f'Edit {ctx.current_value} · Help desk'" in files["blocks/each_order.py"].decode()
    assert "/section/div/" in files["blocks/each_order.py"].decode()  # the readers' new places

    before = desk.state()
    result = without_extractor(chromium, cache, as_clerk_again(desk, "SO-1007", "Edsger Dijkstra"))

    assert result.exit_status == 0, result.as_json()
    assert result.fallback_count() == 0 and result.unread == () and not result.relocations
    assert [r for r in result.records if r.fallback != "none"] == []
    assert read(result, "read_order") == [
        {"status": before.orders[n].status, "total": before.orders[n].total} for n in OTHER_ORDERS
    ]
    assert read(result, "read_contact") == [{"email": "edsger@goto.test"}]
