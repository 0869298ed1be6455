"""Record → generate → replay in headless Chromium against the test portal.

Each test acts a recorded agent run out on the site (the recorded run's server-side
effects), ingests the recording into a fresh cache, and replays the generated main.py with
the Playwright runtime; the site's form posts are compared.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page as PlaywrightPage
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from config.settings import FULL_CHROMIUM_PATH
from tests.browser import recordings as rec
from tests.browser.recordings import Inputs
from tests.support.browser import run_async
from tests.support.portal import Cache, Portal
from worker.browser.chromium import check_chromium, open_page
from worker.browser.context import BrowserRunContext
from worker.browser.journal import Journal, ReplayResult
from worker.browser.page import BrowserPage, ExtractorHook, FallbackHook
from worker.browser.replay import load_script, run_script
from worker.demo.portal.site import ACCOUNTS, Post
from worker.demo.portal.workflow import read_status_total
from worker.domain.definition import Definition

ALICE = Inputs(
    "alice@shop.test",
    ACCOUNTS["alice@shop.test"].password,
    ("A-1001", "A-1002", "A-1003"),
    "refund",
)
BOB = Inputs(
    "bob@shop.test",
    ACCOUNTS["bob@shop.test"].password,
    ("B-2002", "B-2001"),
    "refund",
    refund_reason="late",
)
FallbackFactory = Callable[[PlaywrightPage], FallbackHook]


async def _act_out(chromium: str, events: Sequence[dict[str, Any]]) -> None:
    async with open_page(chromium) as page:
        await rec.act_out(page, events)


def recorded_effects(
    chromium: str, portal: Portal, events: Sequence[dict[str, Any]]
) -> tuple[list[Post], list[tuple[str, str]]]:
    """The form posts and order views the recorded run makes on the site; the site is
    cleared afterwards."""
    run_async(_act_out(chromium, events))
    effects = list(portal.site.posts), list(portal.site.views)
    portal.site.clear()
    return effects


async def _replay(
    chromium: str,
    files: dict[str, bytes],
    definition: Definition,
    inputs: Inputs,
    *,
    fallback_for: FallbackFactory | None,
    extractor: ExtractorHook | None,
    timeout_s: float,
) -> ReplayResult:
    with tempfile.TemporaryDirectory(prefix="replay-test-") as tmp:
        module = load_script(files, Path(tmp))
        async with open_page(chromium) as browser_page:
            fallback = None if fallback_for is None else fallback_for(browser_page)
            page = BrowserPage(
                browser_page,
                Journal(),
                fallback=fallback,
                extractor=extractor,
                selector_timeout_s=timeout_s,
            )
            ctx = BrowserRunContext(page, definition, inputs.parameters(), inputs.credentials())
            return await run_script(module, ctx)


def replay(
    chromium: str,
    cache: Cache,
    inputs: Inputs,
    *,
    fallback_for: FallbackFactory | None = None,
    extractor: ExtractorHook | None = read_status_total,
    timeout_s: float = 2.0,
) -> ReplayResult:
    files, definition = cache.live(rec.WPID)
    return run_async(
        _replay(
            chromium,
            files,
            definition,
            inputs,
            fallback_for=fallback_for,
            extractor=extractor,
            timeout_s=timeout_s,
        )
    )


def outcomes(result: ReplayResult) -> list[tuple[str, int | None, str]]:
    return [(b.label, b.loop_index, b.outcome) for b in result.blocks]


def expected_outcomes(inputs: Inputs, sign_in: str = "code") -> list[tuple[str, int | None, str]]:
    loop = [
        (label, i, "code")
        for i in range(len(inputs.order_numbers))
        for label in ("open_order", "read_order")
    ]
    branch = "request_refund" if inputs.action == "refund" else "contact_support"
    return [
        ("sign_in", None, sign_in),
        *loop,
        ("each_order", None, "code"),
        (branch, None, "code"),
        ("settle", None, "skipped"),
    ]


# The configured browser (Debian's headless shell where installed) and Debian's full Chromium,
# which a platform may configure instead (and a headed replay needs): both record and replay.
@pytest.mark.parametrize("browser", ["configured", "full Chromium"])
def test_replay_makes_the_recorded_runs_form_posts_with_the_password_from_the_context(
    chromium: str, portal: Portal, cache: Cache, browser: str
) -> None:
    if browser == "full Chromium":
        chromium = str(check_chromium(FULL_CHROMIUM_PATH))  # fails, never skips, when missing
    events = rec.agent_run("run_alice", portal.base_url, ALICE)
    posts, views = recorded_effects(chromium, portal, events)
    assert [r.regenerated for r in cache.record(events)] == [True]
    files, _ = cache.live(rec.WPID)
    assert all(ALICE.password.encode() not in data for data in files.values())
    assert b"ctx.credential('password')" in files["main.py"]

    result = replay(chromium, cache, ALICE)

    result.raise_for_error()
    assert posts == [
        Post("/login", {"username": ALICE.username, "password": ALICE.password}),
        Post("/refunds", {"order": "A-1003", "reason": "damaged"}),
    ]
    assert portal.site.posts == posts
    assert portal.site.views == views == [(ALICE.username, n) for n in ALICE.order_numbers]
    assert outcomes(result) == expected_outcomes(ALICE)
    assert result.fallbacks == ()
    assert [value for _, _, value in result.extracted] == [
        {"status": "shipped", "total": 129.9},
        {"status": "delivered", "total": 18.5},
        {"status": "processing", "total": 342.0},
    ]


def test_replay_with_another_user_and_other_orders_acts_for_those_values(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    cache.record(rec.agent_run("run_alice", portal.base_url, ALICE))
    bob_posts, bob_views = recorded_effects(
        chromium, portal, rec.agent_run("run_bob", portal.base_url, BOB)
    )

    result = replay(chromium, cache, BOB)

    result.raise_for_error()
    assert (
        portal.site.posts
        == bob_posts
        == [
            Post("/login", {"username": BOB.username, "password": BOB.password}),
            Post("/refunds", {"order": "B-2001", "reason": "late"}),
        ]
    )
    assert portal.site.views == bob_views == [(BOB.username, "B-2002"), (BOB.username, "B-2001")]
    assert outcomes(result) == expected_outcomes(BOB)
    assert [value["status"] for _, _, value in result.extracted] == ["cancelled", "delivered"]


def test_a_changed_selector_falls_back_for_that_action_and_the_rest_replays_from_code(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    events = rec.agent_run("run_alice", portal.base_url, ALICE)
    posts, _ = recorded_effects(chromium, portal, events)
    cache.record(events)
    portal.site.rename_sign_in = True
    calls: list[tuple[Any, ...]] = []

    def agent(page: PlaywrightPage) -> FallbackHook:
        async def fallback(
            label: str | None,
            action_name: str,
            selector: str | None,
            intention: str | None,
            error: Exception,
            *,
            value: Any,
        ) -> None:
            calls.append((label, action_name, selector, intention, type(error), value))
            await page.locator("form#login button[type=submit]").click()  # what an agent sees

        return fallback

    result = replay(chromium, cache, ALICE, fallback_for=agent, timeout_s=1.0)

    result.raise_for_error()
    assert calls == [
        ("sign_in", "click", rec.SIGN_IN, "Submit the sign-in form", PlaywrightTimeoutError, None)
    ]
    assert [(f.label, f.action, f.selector, f.intention) for f in result.fallbacks] == [
        ("sign_in", "click", rec.SIGN_IN, "Submit the sign-in form")
    ]
    assert outcomes(result) == expected_outcomes(ALICE, sign_in="fallback")
    assert portal.site.posts == posts


def test_a_fill_that_falls_back_hands_the_hook_the_value_to_type_and_records_no_secret(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    cache.record(rec.agent_run("run_alice", portal.base_url, ALICE))
    portal.site.rename_fields = True
    handed: list[tuple[str, str | None, Any]] = []

    def agent(page: PlaywrightPage) -> FallbackHook:
        async def fallback(
            label: str | None,
            action_name: str,
            selector: str | None,
            intention: str | None,
            error: Exception,
            *,
            value: Any,
        ) -> None:
            handed.append((action_name, selector, value))
            field = {rec.USERNAME: "user", rec.PASSWORD: "pass"}[selector or ""]
            await page.locator(f"input[name={field}]").fill(value)  # what an agent would do

        return fallback

    result = replay(chromium, cache, ALICE, fallback_for=agent, timeout_s=1.0)

    result.raise_for_error()
    assert handed == [
        ("fill", rec.USERNAME, ALICE.username),
        ("fill", rec.PASSWORD, ALICE.password),
    ]
    assert outcomes(result) == expected_outcomes(ALICE, sign_in="fallback")  # signed in
    assert ALICE.password not in repr(result.fallbacks)


def test_without_a_fallback_hook_a_missing_selector_fails_naming_block_action_and_selector(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    cache.record(rec.agent_run("run_alice", portal.base_url, ALICE))
    portal.site.rename_sign_in = True

    result = replay(chromium, cache, ALICE, timeout_s=0.5)

    assert not result.ok
    assert result.error is not None
    assert "block 'sign_in'" in result.error
    assert "click" in result.error and rec.SIGN_IN in result.error
    assert outcomes(result) == [("sign_in", None, "failed")]
    assert portal.site.posts == []


def test_extraction_without_an_extractor_hook_fails_clearly(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    cache.record(rec.agent_run("run_alice", portal.base_url, ALICE))

    result = replay(chromium, cache, ALICE, extractor=None)

    assert result.error == (
        "block 'read_order': extract ('Extract the order status and total') needs an extractor hook"
    )
    assert outcomes(result)[-1] == ("read_order", 0, "failed")


def test_both_branches_replay_from_code_once_progressive_caching_has_cached_them(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    support = Inputs(ALICE.username, ALICE.password, ("A-1002",), "support")
    cache.record(rec.agent_run("run_refund", portal.base_url, ALICE))
    before = replay(chromium, cache, support)
    before.raise_for_error()
    assert outcomes(before)[-2:] == [
        ("contact_support", None, "skipped"),
        ("settle", None, "skipped"),
    ]
    portal.site.clear()

    support_run = rec.agent_run(
        "run_support",
        portal.base_url,
        support,
        cached=("sign_in", "each_order", "open_order", "read_order"),
    )
    support_posts, _ = recorded_effects(chromium, portal, support_run)
    [generated] = cache.record(support_run)
    assert (generated.regenerated, generated.labels) == (True, ("contact_support",))

    refund = replay(chromium, cache, ALICE)
    refund_posts = list(portal.site.posts)
    portal.site.clear()
    supported = replay(chromium, cache, support)

    for result, inputs in ((refund, ALICE), (supported, support)):
        result.raise_for_error()
        assert outcomes(result) == expected_outcomes(inputs)
    assert refund_posts[-1] == Post("/refunds", {"order": "A-1003", "reason": "damaged"})
    assert portal.site.posts == support_posts
    assert support_posts[-1] == Post(
        "/support/tickets", {"order": "A-1002", "message": rec.SUPPORT_TEXT}
    )


def test_replay_takes_less_time_than_the_recorded_blocks(
    chromium: str, portal: Portal, cache: Cache, capsys: Any
) -> None:
    events = rec.agent_run("run_alice", portal.base_url, ALICE)
    cache.record(events)
    started = time.monotonic()
    result = replay(chromium, cache, ALICE)
    wall_s = time.monotonic() - started
    recorded_s = rec.recorded_block_seconds(events)

    result.raise_for_error()
    with capsys.disabled():
        print(
            f"\nreplay {result.duration_s:.2f} s (with browser start {wall_s:.2f} s) "
            f"vs recorded blocks {recorded_s:.0f} s"
        )
    assert recorded_s == 77
    assert wall_s < recorded_s
