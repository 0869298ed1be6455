"""Values belong to the run, on a real application: a script learned from one agent run
(as the clerk) is replayed as the admin with other orders, another customer and another
target; exactly the rows those parameters name change, in the admin's name, and nothing of
the recorded run's data is typed. Judged by the application's own database."""

from __future__ import annotations

from dataclasses import replace

from tests.realapp.app import DeskApp, Ticket
from tests.realapp.fidelity import Cache, Replay, as_clerk, changes, record, replay
from tests.realapp.workflows import Inputs

OTHER_ORDERS = ("SO-1002", "SO-1005", "SO-1007")


def as_admin(desk: DeskApp, action: str, target: str, customer: str) -> Inputs:
    return Inputs("admin", desk.users.admin_password, OTHER_ORDERS, customer, target, action)


def read_values(run: Replay, label: str) -> list[object]:
    return [value for block, _, value in run.result.extracted if block == label]


def test_a_replay_with_other_parameters_refunds_only_the_order_they_name_as_the_user_given(
    chromium: str, desk: DeskApp, cache: Cache
) -> None:
    recorded = as_clerk(desk, "refund", "SO-1003")
    [learned] = cache.record(record(chromium, desk, "run_clerk", recorded))
    assert learned.regenerated
    other = as_admin(desk, "refund", "SO-1006", "Alan Turing")
    before = desk.state()

    run = replay(chromium, cache, other, "replay_admin")

    run.result.raise_for_error()
    # The admin may change a customer: the page the clerk's run read the email off as text is
    # a form for the admin, so read_contact's reader finds no such element and the extractor
    # reads it (fallback "element", which repairs the reader); nothing else needs the agent.
    assert [r.label for r in run.result.records if r.fallback != "none"] == ["read_contact"]
    after = desk.state()
    order = before.orders["SO-1006"]
    assert changes(before, after) == (
        {"SO-1006": (order, replace(order, status="refunded"))},
        (),
        [("admin", "order", "SO-1006", "changed")],
    )
    assert after.last_login["admin"] is not None
    assert after.last_login["clerk"] == before.last_login["clerk"]
    assert read_values(run, "read_order") == [
        {"status": before.orders[n].status, "total": before.orders[n].total} for n in OTHER_ORDERS
    ]
    assert read_values(run, "read_contact") == [{"email": "alan@bletchley.test"}]
    files, _, _ = cache.live()
    for recorded_value in ("'clerk'", "Grace Hopper", "SO-1003", "grace@cobol.test"):
        assert all(recorded_value.encode() not in data for data in files.values()), [
            line
            for data in files.values()
            for line in data.decode().splitlines()
            if recorded_value in line
        ]


def test_a_replay_with_other_parameters_files_the_ticket_with_the_email_it_read(
    chromium: str, desk: DeskApp, cache: Cache
) -> None:
    cache.record(record(chromium, desk, "run_refund", as_clerk(desk, "refund", "SO-1003")))
    [learned] = cache.record(
        record(chromium, desk, "run_ticket", as_clerk(desk, "ticket", "SO-1004"))
    )
    assert (learned.regenerated, learned.labels) == (True, ("file_ticket",))
    other = as_admin(desk, "ticket", "SO-1008", "Edsger Dijkstra")
    before = desk.state()

    run = replay(chromium, cache, other, "replay_admin_ticket")

    run.result.raise_for_error()
    # The admin may change a customer: the page the clerk's run read the email off as text is
    # a form for the admin, so read_contact's reader finds no such element and the extractor
    # reads it (fallback "element", which repairs the reader); nothing else needs the agent.
    assert [r.label for r in run.result.records if r.fallback != "none"] == ["read_contact"]
    assert changes(before, desk.state()) == (
        {},
        (Ticket("SO-1008", "edsger@goto.test", "Refund request for order SO-1008", "admin"),),
        [("admin", "ticket", "Refund request for order SO-1008", "added")],
    )
    assert read_values(run, "read_contact") == [{"email": "edsger@goto.test"}]
