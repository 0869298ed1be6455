"""The closed loop in real Chromium (ARCHITECTURE.md §8): an agent run is learned, replays
run from code, a change of the site makes them fall back to the agent plug-in, the replay's
own events repair the cache, and the next replay runs from code again with the same effects.
Generation here is the service in-process (tests/browser/test_closed_loop_worker.py runs the
same loop through a real worker)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jsonschema
from sqlalchemy import select

from tests.browser import recordings as rec
from tests.browser.conftest import Cache, Portal
from tests.browser.test_replay import ALICE
from worker import models as m
from worker import scripts as read
from worker.events import parse_event
from worker.generation import GenerateResult, generate_now
from worker.intake import record_only
from worker.portal.closed_loop import Run, agent_run, replay_with_agent
from worker.schemas import schemas


def replay(chromium: str, cache: Cache, run_id: str) -> Run:
    files, definition = cache.live(rec.WPID)
    with cache.sessions() as session:
        revision = read.select_revision(session, read.resolve_script(session, rec.WPID, None),
                                        None)
    return asyncio.run(replay_with_agent(chromium, files, definition, ALICE,
                                         script_id=revision.script_id,
                                         version=revision.version, run_id=run_id))


def record(cache: Cache, run: Run, repairs_per_day: int = 10) -> GenerateResult:
    (run_id,) = record_only(cache.sessions, [parse_event(e) for e in run.events])
    return generate_now(cache.sessions, cache.store, run_id, repairs_per_day=repairs_per_day)


def effects(portal: Portal) -> tuple[list[Any], list[Any]]:
    """The site's form posts and order views since the last call; the site is cleared."""
    found = list(portal.site.posts), list(portal.site.views)
    portal.site.clear()
    return found


def check_events(events: list[dict[str, Any]]) -> None:
    """Valid against the published JSON Schemas, and no credential anywhere."""
    published = schemas()
    for event in events:
        jsonschema.validate(event, published[event["type"]])
    assert ALICE.password not in json.dumps(events)
    assert [e["type"] for e in events][::len(events) - 1] == ["run_started", "run_finished"]


def learn(chromium: str, portal: Portal, cache: Cache) -> tuple[list[Any], list[Any]]:
    learned = asyncio.run(agent_run(chromium, portal.base_url, ALICE, "wr_agent"))
    check_events(learned.events)
    assert record(cache, learned).regenerated
    return effects(portal)


def test_redesigns_v2_and_v3_are_each_repaired_by_one_replay_with_fallbacks(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    agent_effects = learn(chromium, portal, cache)
    clean = replay(chromium, cache, "wr_v1")
    assert (clean.fallbacks, clean.calls) == ([], [])
    assert effects(portal) == agent_effects

    for variant, broken_blocks in (("v2", {"sign_in", "open_order", "request_refund"}),
                                   ("v3", {"sign_in", "request_refund"})):
        portal.site.variant = variant
        broken = replay(chromium, cache, f"wr_{variant}_broken")
        assert effects(portal) == agent_effects  # the agent kept the run going
        check_events(broken.events)
        assert {label for label, _, _ in broken.fallbacks} == broken_blocks
        repaired = record(cache, broken)
        assert repaired.regenerated and repaired.reason.startswith("repair: ")
        assert set(repaired.labels) == broken_blocks - {"open_order"} | (
            {"each_order"} if "open_order" in broken_blocks else set())

        fixed = replay(chromium, cache, f"wr_{variant}_fixed")
        assert (fixed.fallbacks, fixed.calls) == ([], []), variant
        assert effects(portal) == agent_effects
        assert not record(cache, fixed).regenerated


def test_a_banner_in_the_first_loop_iteration_only_becomes_optional_after_one_repair(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    agent_effects = learn(chromium, portal, cache)
    portal.site.welcome_once = True

    broken = replay(chromium, cache, "wr_welcome")
    assert broken.fallbacks == [("open_order", 0, "element")]
    assert broken.calls == [("act", "open_order")]
    effects(portal)
    repaired = record(cache, broken)
    assert (repaired.regenerated, repaired.labels) == (True, ("each_order",))
    code = cache.live(rec.WPID)[0]["blocks/each_order.py"].decode()
    assert "intention='Close the dialog that covers the page',\n        optional=True," in code

    for run_id in ("wr_after_1", "wr_after_2"):
        fixed = replay(chromium, cache, run_id)
        assert (fixed.fallbacks, fixed.calls) == ([], [])
        assert effects(portal) == agent_effects
    skipped = [(e["loop_index"], a["status"], a["source"]) for e in fixed.events
               if e.get("label") == "open_order" for a in e["actions"]
               if a["intention"] == "Close the dialog that covers the page"]
    assert skipped == [(0, "completed", "code"), (1, "skipped", "code"),
                       (2, "skipped", "code")]


def test_a_block_that_keeps_failing_stops_consuming_revisions_once_the_budget_is_spent(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    learn(chromium, portal, cache)
    portal.site.drift = True  # sign-in's positional xpaths never hold twice

    results = [record(cache, replay(chromium, cache, f"wr_drift_{i}"), repairs_per_day=2)
               for i in range(3)]

    assert [(r.regenerated, r.version) for r in results] == [(True, 2), (True, 3), (False, 3)]
    assert results[2].reason == (
        "repair budget spent: 2 repair revisions of this script in the last 24 h "
        "(SCRIPTCACHE_REPAIRS_PER_DAY=2); not repaired: sign_in")
    with cache.sessions() as session:
        flags = session.scalars(select(m.ScriptRevision.repair)
                                .order_by(m.ScriptRevision.version)).all()
    assert flags == [False, True, True]
