"""A replay knows whether each block did its job (ARCHITECTURE.md §12), in real Chromium on the
test portal: the stand-in agent's run records the page each block completed on, the generated
blocks check it, and a rejected login fails `sign_in` itself, before anything else happens on
the site."""

from __future__ import annotations

from typing import Any

from tests.support.browser import run_async
from tests.support.portal import Cache, Portal
from worker.browser.emit import RunInfo, emit_events
from worker.browser.replay import Hooks, replay_revision
from worker.demo.portal import workflow as portal_workflow
from worker.demo.portal.closed_loop import agent_run, standin
from worker.demo.portal.site import ACCOUNTS
from worker.demo.portal.workflow import Inputs, read_status_total
from worker.domain.definition import Definition

ALICE = Inputs(
    "alice@shop.test", ACCOUNTS["alice@shop.test"].password, ("A-1001", "A-1002"), "refund"
)
BOB = Inputs("bob@shop.test", ACCOUNTS["bob@shop.test"].password, ("B-2002",), "refund")


def learn(chromium: str, portal: Portal, cache: Cache) -> tuple[dict[str, bytes], Definition]:
    run = run_async(agent_run(chromium, portal.base_url, ALICE, "wr_outcome_learn"))
    pages = {
        e["label"]: e.get("page")
        for e in run.events
        if e["type"] == "block_completed" and e["loop_index"] in (None, 0)
    }
    assert pages["sign_in"]["url"] == f"{portal.base_url}/orders"
    assert pages["sign_in"]["title"] == "Your orders"
    assert pages["open_order"]["title"] == "Order A-1001"
    cache.record(run.events)
    return cache.live(portal_workflow.WPID)


def replay(
    chromium: str,
    files: dict[str, bytes],
    definition: Definition,
    inputs: Inputs,
    credentials: dict[str, Any],
    **options: Any,
) -> Any:
    return run_async(
        replay_revision(
            files,
            definition,
            inputs.parameters(),
            credentials,
            chromium_path=chromium,
            hooks=Hooks(extractor=read_status_total),
            selector_timeout_s=2.0,
            **options,
        )
    )


def test_the_generated_blocks_check_the_page_they_end_on(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    files, _ = learn(chromium, portal, cache)
    sign_in = files["blocks/sign_in.py"].decode()
    assert "await page.expect_outcome(path='/orders')" in sign_in
    # the order opened is the loop's value (a page it moved to: no title checked)
    open_order = files["blocks/each_order.py"].decode()  # the loop's file holds its children
    assert "await page.expect_outcome(path=f'/orders/{ctx.current_value}')" in open_order


def test_a_wrong_password_fails_sign_in_by_name_and_nothing_else_happens_on_the_site(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    files, definition = learn(chromium, portal, cache)
    portal.site.clear()
    result = replay(chromium, files, definition, BOB, {"password": "not-bobs-password"})
    assert result.exit_status == 1
    assert [(b.label, b.outcome) for b in result.blocks] == [("sign_in", "failed")]
    detail = result.blocks[0].detail or ""
    assert "block 'sign_in' did not do its job" in detail
    assert "the page is at '/login', the recording's was at '/orders'" in detail
    assert result.error is not None and "sign_in" in result.error
    # the site's own record: one rejected sign-in, no order viewed, nothing requested
    assert [p.path for p in portal.site.posts] == ["/login"]
    assert portal.site.views == [] and portal.site.signed_in() == []
    assert "not-bobs-password" not in repr(result.as_json())


def test_with_the_right_password_other_values_pass_every_check(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    files, definition = learn(chromium, portal, cache)
    portal.site.clear()
    result = replay(chromium, files, definition, BOB, BOB.credentials())
    assert result.error is None, result.error
    assert result.count("failed") == 0 and result.count("fallback") == 0
    assert portal.site.views == [("bob@shop.test", "B-2002")]
    assert [p.path for p in portal.site.posts] == ["/login", "/refunds"]
    assert result.exit_status == 3 and result.undone == ("settle",)  # a wait block runs live


def test_the_agent_gets_the_failed_check_with_its_reason(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    files, definition = learn(chromium, portal, cache)
    portal.site.clear()
    agent = standin()
    result = replay(
        chromium, files, definition, BOB, {"password": "not-bobs-password"}, agent=agent
    )
    assert agent.reasons and agent.reasons[0][0] == "sign_in"
    assert agent.reasons[0][1].startswith("its outcome check failed: block 'sign_in'")
    # the agent typed the same wrong password and read the site's refusal: sign_in fails,
    # not the next block
    assert result.exit_status == 1
    assert [(b.label, b.outcome) for b in result.blocks] == [("sign_in", "failed")]
    assert "the agent reports 'failed'" in (result.blocks[0].detail or "")
    assert portal.site.views == []


def test_the_extraction_reads_the_same_fields_off_other_orders_without_an_extractor(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    files, definition = learn(chromium, portal, cache)
    assert "await page.read(" in files["blocks/each_order.py"].decode()
    portal.site.clear()
    result = run_async(
        replay_revision(
            files,
            definition,
            BOB.parameters(),
            BOB.credentials(),
            chromium_path=chromium,
            selector_timeout_s=2.0,
        )
    )
    assert result.error is None, result.error
    order = ACCOUNTS["bob@shop.test"].order("B-2002")
    assert order is not None
    read = [value for label, _, value in result.extracted if label == "read_order"]
    assert read == [{"status": order.status, "total": float(order.total)}]
    assert result.unread == () and result.fallback_count() == 0


def test_after_a_redesign_one_run_with_the_agent_repairs_checks_and_readers(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    files, definition = learn(chromium, portal, cache)
    portal.site.variant = "v4"  # signing in lands on /home; an order's page is a table
    portal.site.clear()
    agent = standin()
    repairing = replay(chromium, files, definition, BOB, BOB.credentials(), agent=agent)
    assert repairing.error is None, repairing.error
    assert (
        "sign_in",
        "its outcome check failed: block 'sign_in' did not do its job: the page "
        "is at '/home', the recording's was at '/orders'",
    ) in agent.reasons
    info = RunInfo(portal_workflow.WPID, 1, 1, 1, BOB.parameters(), BOB.credentials(), "wr_fix")
    [repaired] = cache.record(emit_events(repairing, definition, info))
    assert repaired.regenerated
    files, definition = cache.live(portal_workflow.WPID)
    assert "await page.expect_outcome(path='/home')" in files["blocks/sign_in.py"].decode()
    assert "'order-amount'" in files["blocks/each_order.py"].decode()

    portal.site.clear()
    result = replay(chromium, files, definition, ALICE, ALICE.credentials())
    assert result.error is None, result.error
    assert result.fallback_count() == 0 and result.unread == ()
    read = [value for label, _, value in result.extracted if label == "read_order"]
    account = ACCOUNTS["alice@shop.test"]
    assert read == [
        {"status": o.status, "total": float(o.total)}
        for o in (account.order("A-1001"), account.order("A-1002"))
        if o is not None
    ]
    assert [p.path for p in portal.site.posts] == ["/login", "/refunds"]


def test_a_branch_the_recorded_run_did_not_take_is_left_undone_and_the_exit_status_says_so(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    files, definition = learn(chromium, portal, cache)  # the agent's run took "refund"
    portal.site.clear()
    support = Inputs(BOB.username, BOB.password, BOB.order_numbers, "support")
    result = replay(chromium, files, definition, support, support.credentials())
    assert result.error is None, result.error
    assert result.exit_status == 3 and not result.done
    assert result.undone == ("contact_support", "settle")  # not cached; a wait runs live
    assert result.as_json()["undone"] == ["contact_support", "settle"]
    assert [p.path for p in portal.site.posts] == ["/login"]  # no ticket sent by nobody
