"""The real application itself: Django's admin on loopback, signed in through Chromium, its
state read from its own database; site changes; agent runs of the help-desk workflow recorded
in the event format and taken in by scriptcache."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.realapp.app import DeskApp, Order, Ticket
from tests.realapp.fidelity import Cache, record
from tests.realapp.workflows import Inputs
from tests.support.browser import run_async
from worker.browser.chromium import open_page
from worker.domain.events import parse_event

ORDERS = ("SO-1001", "SO-1004")


def clerk_inputs(desk: DeskApp, action: str = "refund", target: str = "SO-1003") -> Inputs:
    return Inputs("clerk", desk.users.clerk_password, ORDERS, "Grace Hopper", target, action)


async def _sign_in(chromium: str, base_url: str, username: str, password: str) -> str:
    async with open_page(chromium) as page:
        await page.goto(f"{base_url}/admin/")
        await page.get_by_label("Username:").fill(username)
        await page.get_by_label("Password:").fill(password)
        await page.get_by_role("button", name="Log in").click()
        await page.wait_for_load_state("load")
        return await page.locator("body").inner_text()


def test_signing_in_through_chromium_opens_a_session_in_the_apps_database(
    chromium: str, desk: DeskApp
) -> None:
    before = desk.state()
    assert before.last_login == {"admin": None, "clerk": None}
    assert desk.sessions_of("clerk") == 0

    denied = run_async(_sign_in(chromium, desk.base_url, "clerk", "not-the-password"))
    assert "Please enter the correct username and password" in denied
    assert desk.state().last_login["clerk"] is None

    welcome = run_async(_sign_in(chromium, desk.base_url, "clerk", desk.users.clerk_password))

    assert re.search(r"Welcome,\s+clerk", welcome, re.IGNORECASE)
    assert "Site administration" in welcome
    after = desk.state()
    assert after.last_login["clerk"] is not None and after.last_login["admin"] is None
    assert desk.sessions_of("clerk") == 1 and desk.sessions_of("admin") == 0
    assert after.orders == before.orders and after.log == ()


async def _page_texts(chromium: str, url: str) -> tuple[str, list[str]]:
    async with open_page(chromium) as page:
        await page.goto(url)
        dialogs = await page.get_by_role("dialog").all_inner_texts()
        buttons = [
            await b.get_attribute("value") or await b.inner_text()
            for b in await page.locator("form#login-form [type=submit]").all()
        ]
        return " ".join(dialogs), buttons


def test_site_changes_are_template_overrides_switched_per_test(
    chromium: str, desk: DeskApp
) -> None:
    login = f"{desk.base_url}/admin/login/"
    assert run_async(_page_texts(chromium, login)) == ("", ["Log in"])

    desk.switch("banner")
    dialog, buttons = run_async(_page_texts(chromium, login))
    assert "We use cookies" in dialog and buttons == ["Log in"]

    desk.switch("relabel")
    assert run_async(_page_texts(chromium, login)) == ("", ["Sign in"])

    desk.switch("banner", "relabel")
    dialog, buttons = run_async(_page_texts(chromium, login))
    assert "We use cookies" in dialog and buttons == ["Sign in"]

    desk.switch()
    assert run_async(_page_texts(chromium, login)) == ("", ["Log in"])


def typed(events: list[dict[str, Any]], label: str) -> list[tuple[str, Any, Any]]:
    [block] = [e for e in events if e["type"] == "block_completed" and e["label"] == label]
    return [
        (a["action_type"], a["text"] or a["option"], a["parameter_key"])
        for a in block["actions"]
        if a["action_type"] in ("input_text", "select_option")
    ]


def test_an_agent_run_refunds_the_order_it_names_as_the_user_it_signs_in_with(
    chromium: str, desk: DeskApp, cache: Cache
) -> None:
    before = desk.state()
    inputs = clerk_inputs(desk, "refund", "SO-1003")

    events = record(chromium, desk, "run_refund", inputs)

    after = desk.state()
    assert after.orders_changed_since(before) == {
        "SO-1003": (
            Order("SO-1003", "Grace Hopper", "new", "342.00"),
            Order("SO-1003", "Grace Hopper", "refunded", "342.00"),
        )
    }
    assert [(e.username, e.model, e.object_repr, e.action) for e in after.log_since(before)] == [
        ("clerk", "order", "SO-1003", "changed")
    ]
    assert after.tickets_since(before) == ()
    # What it read is what the database holds; how it recorded it is how real agents do.
    outputs = [e["output"] for e in events if e.get("label") == "read_order"]
    assert outputs == [
        {"status": "shipped", "total": "129.90"},
        {"status": "shipped", "total": "75.25"},
    ]
    assert typed(events, "sign_in") == [
        ("input_text", "clerk", None),
        ("input_text", inputs.password, "password"),
    ]
    xpaths = [
        a["xpath"]
        for e in events
        if e["type"] == "block_completed"
        for a in e["actions"]
        if a["xpath"]
    ]
    assert xpaths and all(x.startswith("/html/body/") for x in xpaths)
    assert not any("@" in x or "'" in x for x in xpaths)  # positional: no ids, no texts
    # scriptcache takes the run in and caches a script that holds no password.
    [generated] = cache.record(events)
    assert generated.regenerated
    files, _, _ = cache.live()
    assert all(inputs.password.encode() not in data for data in files.values())


def test_an_agent_run_files_a_ticket_with_the_email_it_read_before(
    chromium: str, desk: DeskApp, cache: Cache
) -> None:
    before = desk.state()
    inputs = clerk_inputs(desk, "ticket", "SO-1004")

    events = record(chromium, desk, "run_ticket", inputs)

    after = desk.state()
    assert after.tickets_since(before) == (
        Ticket("SO-1004", "grace@cobol.test", "Refund request for order SO-1004", "clerk"),
    )
    assert after.orders_changed_since(before) == {}
    assert [(e.username, e.model, e.action) for e in after.log_since(before)] == [
        ("clerk", "ticket", "added")
    ]
    [contact] = [e["output"] for e in events if e.get("label") == "read_contact"]
    assert contact == {"email": "grace@cobol.test"}
    assert typed(events, "file_ticket") == [
        ("select_option", "SO-1004", None),
        ("input_text", "grace@cobol.test", None),
        ("input_text", "Refund request for order SO-1004", None),
    ]
    assert all(parse_event(json.loads(json.dumps(e))) for e in events)
    [generated] = cache.record(events)
    assert generated.regenerated
