"""A loaded real server: a form post answered later than the selector timeout.

The click was done; only its navigation is slow. The replay must wait for the page, not
hand the click to the agent as if its element were missing: an agent clicking again submits
the form twice (a second ticket, a second login). Judged by the application's database.
"""

from __future__ import annotations

from tests.realapp.agent import DeskAgent
from tests.realapp.app import DeskApp, Ticket
from tests.realapp.fidelity import SELECTOR_TIMEOUT_S, Cache, as_clerk, changes, record, replay


def test_a_slow_form_post_is_waited_for_and_submitted_once(
    chromium: str, desk: DeskApp, cache: Cache
) -> None:
    inputs = as_clerk(desk, "ticket", "SO-1004")
    cache.record(record(chromium, desk, "run_agent", inputs))
    desk.slow_posts(SELECTOR_TIMEOUT_S + 1.5)
    before = desk.state()

    run = replay(chromium, cache, inputs, "replay_slow", agent=DeskAgent())

    run.result.raise_for_error()
    ticket = Ticket("SO-1004", "grace@cobol.test", "Refund request for order SO-1004", "clerk")
    assert changes(before, desk.state()) == (
        {},
        (ticket,),
        [("clerk", "ticket", ticket.subject, "added")],
    )
    assert (run.fallbacks, run.agent_calls) == (0, 0), run.outcomes()
