"""The closed loop on a real application, judged by the application's own database.

After each site change (template overrides: a consent banner with an extra wrapper, then
relabelled buttons), one replay with the agent plug-in falls back, its emitted events repair
the cache, and the next replay runs from code with 0 fallbacks and the same effects.
"""

from __future__ import annotations

import json

from tests.realapp.agent import DeskAgent
from tests.realapp.app import DeskApp, Ticket
from tests.realapp.fidelity import Cache, as_clerk, changes, record, replay

SITE_CHANGES = (("banner",), ("banner", "relabel"))


def test_after_each_site_change_one_run_with_the_agent_repairs_the_script(
    chromium: str, desk: DeskApp, cache: Cache
) -> None:
    inputs = as_clerk(desk, "ticket", "SO-1004")
    cache.record(record(chromium, desk, "run_agent", inputs))
    ticket = Ticket("SO-1004", "grace@cobol.test", "Refund request for order SO-1004", "clerk")
    effect = ({}, (ticket,), [("clerk", "ticket", ticket.subject, "added")])

    before = desk.state()
    first = replay(chromium, cache, inputs, "replay_v1", agent=DeskAgent())
    first.result.raise_for_error()
    assert (first.fallbacks, first.agent_calls) == (0, 0)
    assert changes(before, desk.state()) == effect

    for n, change in enumerate(SITE_CHANGES):
        desk.switch(*change)
        before = desk.state()
        repairing = replay(chromium, cache, inputs, f"replay_change{n}_agent", agent=DeskAgent())
        repairing.result.raise_for_error()
        assert repairing.fallbacks > 0 and repairing.agent_calls > 0, change
        assert changes(before, desk.state()) == effect, change
        assert inputs.password not in json.dumps(repairing.events)  # the agent typed it
        [repaired] = cache.record(repairing.events)
        assert repaired.regenerated and "repair" in repaired.reason, (change, repaired)
        files, _, _ = cache.live()
        assert all(inputs.password.encode() not in data for data in files.values())

        before = desk.state()
        after = replay(chromium, cache, inputs, f"replay_change{n}_code", agent=DeskAgent())
        after.result.raise_for_error()
        assert (after.fallbacks, after.agent_calls) == (0, 0), (change, after.outcomes())
        assert changes(before, desk.state()) == effect, change
