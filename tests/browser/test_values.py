"""Values belong to the run (ARCHITECTURE.md §9), in real Chromium on the test portal.

An agent's run as user A with orders [1, 2] is recorded with every typed value as plain text
(no `parameter_key`, except the password): the username, each order
number, a note built from the username, and a confirmation code the site issued and the
agent read off the page. The script learned from it is replayed as user B with orders
[3, 4, 5]; the site's own state must show B's values only, the fresh confirmation codes typed
back (from `ctx.outputs`), and a one-time code the site accepts (from `ctx.totp`).
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
from playwright.async_api import Page as PlaywrightPage

from tests.recordings import runs_from_raw
from tests.support.browser import run_async
from tests.support.portal import Cache, Portal
from worker.browser.chromium import open_page
from worker.browser.context import BrowserRunContext
from worker.browser.emit import RunInfo, emit_events
from worker.browser.journal import Journal, ReplayResult
from worker.browser.page import BrowserPage
from worker.browser.replay import load_script, run_script
from worker.demo.portal.site import ACCOUNTS
from worker.domain.codegen import generate_script

WPID = "wpid_values_portal"
T0 = datetime(2026, 11, 21, 9, 0, 0, tzinfo=UTC)
ALICE, BOB = "alice@shop.test", "bob@shop.test"
SECRETS = {ALICE: pyotp.random_base32(), BOB: pyotp.random_base32()}
CODE_GOAL = "The confirmation code shown"
_CODE = re.compile(r"Confirmation (PC-[0-9A-F]+)")


@dataclass(frozen=True)
class Inputs:
    username: str
    orders: tuple[int, ...]

    def parameters(self) -> dict[str, Any]:
        return {"username": self.username, "orders": list(self.orders)}

    def credentials(self) -> dict[str, Any]:
        return {"password": ACCOUNTS[self.username].password, "otp": SECRETS[self.username]}


def definition(base: str) -> dict[str, Any]:
    return {
        "title": "Process orders",
        "cache_key": "default",
        "parameters": [
            {"key": "username", "parameter_type": "workflow"},
            {"key": "password", "parameter_type": "credential"},
            {"key": "otp", "parameter_type": "totp"},
            {"key": "orders", "parameter_type": "workflow"},
        ],
        "blocks": [
            {"label": "sign_in", "block_type": "login", "url": f"{base}/login"},
            {"label": "second_factor", "block_type": "task", "url": f"{base}/security"},
            {
                "label": "each_order",
                "block_type": "for_loop",
                "loop_over": "orders",
                "loop_blocks": [
                    {"label": "process", "block_type": "navigation", "url": f"{base}/process"},
                    {
                        "label": "read_code",
                        "block_type": "extraction",
                        "data_extraction_goal": CODE_GOAL,
                    },
                    {"label": "confirm", "block_type": "task", "url": f"{base}/confirm"},
                ],
            },
        ],
    }


def recorded_run(base: str, who: Inputs) -> list[dict[str, Any]]:
    """What the agent did as `who`: values typed as text, the codes it read and typed back."""
    events: list[dict[str, Any]] = []

    def event(kind: str, **fields: Any) -> None:
        at = T0 + timedelta(seconds=len(events))
        events.append(
            {
                "type": kind,
                "event_id": f"ev_{len(events)}",
                "occurred_at": at.isoformat(),
                "workflow_run_id": "wr_alice",
                **fields,
            }
        )

    def block(
        label: str,
        block_type: str,
        actions: list[dict[str, Any]],
        *,
        loop: tuple[int, int] | None = None,
        output: Any = None,
        bid: str = "",
    ) -> None:
        acts = [
            {"action_id": f"a_{len(events)}_{i}", "status": "completed", **a}
            for i, a in enumerate(actions)
        ]
        event(
            "block_completed",
            workflow_run_block_id=bid or f"b_{len(events)}",
            parent_workflow_run_block_id=None if loop is None else "b_loop",
            label=label,
            block_type=block_type,
            status="completed",
            executed_with="agent",
            loop_index=None if loop is None else loop[0],
            loop_value=None if loop is None else loop[1],
            task={
                "task_id": f"t_{len(events)}",
                "data_extraction_goal": CODE_GOAL if label == "read_code" else None,
            },
            actions=acts,
            output=output,
        )

    def act(kind: str, xpath: str | None, intention: str, **fields: Any) -> dict[str, Any]:
        return {"action_type": kind, "xpath": xpath, "intention": intention, **fields}

    event(
        "run_started",
        workflow_permanent_id=WPID,
        workflow_version=1,
        definition=definition(base),
        parameters={**who.parameters(), **who.credentials()},
    )
    block(
        "sign_in",
        "login",
        [
            act("click", "//button[@aria-label='Dismiss cookie banner']", "Close the banner"),
            act(
                "input_text", "//input[@name='username']", f"Type {who.username}", text=who.username
            ),
            act(
                "input_text",
                "//input[@name='password']",
                "Type the password",
                text=who.credentials()["password"],
                parameter_key="password",
            ),
            act("click", "//button[@id='sign-in']", "Sign in"),
        ],
    )
    block(
        "second_factor",
        "task",
        [
            act(
                "input_text", "//input[@name='code']", "Type the one-time code", text="492039"
            ),  # the agent typed the code it computed, without parameter_key
            act("click", "//button[@id='verify']", "Verify"),
        ],
    )
    for index, number in enumerate(who.orders):
        code = f"PC-{7000 + index}"  # what the site showed the agent in that iteration
        block(
            "process",
            "navigation",
            [
                act("input_text", "//input[@name='number']", "Type the order", text=str(number)),
                act(
                    "input_text",
                    "//input[@name='note']",
                    "Type the note",
                    text=f"Processed for {who.username}",
                ),
                act("click", "//button[@id='process']", "Process"),
            ],
            loop=(index, number),
        )
        block(
            "read_code",
            "extraction",
            [act("extract", None, "Read the confirmation")],
            loop=(index, number),
            output={"code": code},
        )
        block(
            "confirm",
            "task",
            [
                act("input_text", "//input[@name='code']", "Type the code back", text=code),
                act("click", "//button[@id='confirm']", "Confirm"),
            ],
            loop=(index, number),
        )
    block("each_order", "for_loop", [], bid="b_loop")
    event("run_finished", status="completed")
    return events


async def read_code(
    page: PlaywrightPage, goal: str | None, schema: Any, intention: str | None
) -> dict[str, Any]:
    """The test's extractor: the confirmation code on the page."""
    found = _CODE.search(await page.locator("body").inner_text())
    assert found is not None and goal == CODE_GOAL, (goal, page.url)
    return {"code": found.group(1)}


async def _replay(
    chromium: str, files: dict[str, bytes], cache: Cache, who: Inputs
) -> ReplayResult:
    _, definition_ = cache.live(WPID)
    with tempfile.TemporaryDirectory(prefix="values-test-") as tmp:
        module = load_script(files, Path(tmp))
        async with open_page(chromium) as browser_page:
            page = BrowserPage(browser_page, Journal(), extractor=read_code, selector_timeout_s=5.0)
            ctx = BrowserRunContext(page, definition_, who.parameters(), who.credentials())
            return await run_script(module, ctx)


def test_a_script_learned_as_user_a_replays_as_user_b_with_b_s_orders_and_fresh_codes(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    alice, bob = Inputs(ALICE, (1, 2)), Inputs(BOB, (3, 4, 5))
    portal.site.totp_secrets.update(SECRETS)
    [generated] = cache.record(recorded_run(portal.base_url, alice))
    assert generated.regenerated
    files, _ = cache.live(WPID)
    for data in files.values():
        for recorded in (
            ALICE,
            "PC-7000",
            "PC-7001",
            "492039",
            ACCOUNTS[ALICE].password,
            SECRETS[ALICE],
        ):
            assert recorded.encode() not in data, recorded

    result = run_async(_replay(chromium, files, cache, bob))

    result.raise_for_error()
    site = portal.site
    assert site.signed_in() == [BOB]
    assert site.one_time_codes == [(BOB, True)]
    assert site.processed == [(BOB, str(n), f"Processed for {BOB}") for n in (3, 4, 5)]
    codes = [value["code"] for label, _, value in result.extracted if label == "read_code"]
    assert len(set(codes)) == 3
    assert site.confirmations == [(BOB, code, True) for code in codes]
    assert result.outputs == {"read_code": {"code": codes[-1]}}
    everything = repr([*site.posts, *site.processed, *site.confirmations])
    assert ALICE not in everything and "PC-7000" not in everything


def test_the_replays_own_events_teach_the_same_script_back(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    """Closed loop: what the replay emits (B's run) binds to B's values, the codes it read
    and its one-time code by key, so a script generated from it is the same script."""
    bob = Inputs(BOB, (3, 4, 5))
    portal.site.totp_secrets.update(SECRETS)
    cache.record(recorded_run(portal.base_url, Inputs(ALICE, (1, 2))))
    files, definition_ = cache.live(WPID)
    result = run_async(_replay(chromium, files, cache, bob))
    result.raise_for_error()

    emitted = emit_events(
        result,
        definition_,
        RunInfo(WPID, 1, 1, 1, bob.parameters(), bob.credentials(), workflow_run_id="wr_bob"),
    )

    blocks = {(e["label"], e["loop_index"]): e for e in emitted if e["type"] == "block_completed"}
    [code] = blocks[("second_factor", None)]["actions"][:1]
    assert (code["parameter_key"], code["text"]) == ("otp", None)
    assert blocks[("read_code", 2)]["output"] == result.outputs["read_code"]
    assert SECRETS[BOB] not in repr(emitted) and ACCOUNTS[BOB].password not in repr(emitted)
    # What the replay found at each selector (actions[].element) and the page each block left
    # (page: its outcome check) are new to the recording, which had neither: without them,
    # the script generated back is the same script.
    found = [
        a
        for e in emitted
        for a in e.get("actions", [])
        if a["xpath"] and a["status"] == "completed"
    ]
    assert found and all(a["element"]["tag"] for a in found)
    assert all(e["page"]["url"] for e in emitted if e.get("task"))
    bare = [
        {
            **{k: v for k, v in e.items() if k != "page"},
            "actions": [{k: v for k, v in a.items() if k != "element"} for a in e["actions"]],
        }
        if "actions" in e
        else e
        for e in emitted
    ]
    run = runs_from_raw(bare)[0]
    again = generate_script(run, run.definition.required_labels(), {})
    assert again.files == files
