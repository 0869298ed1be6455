"""The closed loop in real Chromium (ARCHITECTURE.md §8): an agent run is learned, replays
run from code, a redesign makes them fall back to the agent plug-in, the replay's own events
repair the cache, and the next replay runs from code again with the same effects."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import jsonschema

from tests.browser import recordings as rec
from tests.browser.closed_loop import Run, agent_run, replay_with_agent
from tests.browser.conftest import Cache, Portal
from tests.browser.test_replay import ALICE
from worker.schemas import schemas


def replay(chromium: str, cache: Cache, run_id: str) -> Run:
    files, definition = cache.live(rec.WPID)
    script_id, version = cache_version(cache)
    return asyncio.run(replay_with_agent(chromium, files, definition, ALICE,
                                         script_id=script_id, version=version, run_id=run_id))


def cache_version(cache: Cache) -> tuple[int, int]:
    from worker import scripts as read
    with cache.sessions() as session:
        script = read.resolve_script(session, rec.WPID, None)
        revision = read.select_revision(session, script, None)
    return revision.script_id, revision.version


def effects(portal: Portal) -> tuple[list[Any], list[Any]]:
    found = list(portal.site.posts), list(portal.site.views)
    portal.site.clear()
    return found


def check_events(events: list[dict[str, Any]]) -> None:
    published = schemas()
    for event in events:
        jsonschema.validate(event, published[event["type"]])
    assert ALICE.password not in json.dumps(events)


def test_a_redesign_is_repaired_from_the_replay_that_fell_back(
    chromium: str, portal: Portal, cache: Cache
) -> None:
    learned = asyncio.run(agent_run(chromium, portal.base_url, ALICE, "wr_agent"))
    agent_effects = effects(portal)
    check_events(learned.events)
    assert [r.regenerated for r in cache.record(learned.events)] == [True]

    first = replay(chromium, cache, "wr_v1")
    assert (first.fallbacks, first.calls) == ([], [])
    assert effects(portal) == agent_effects
    print(cache.live(rec.WPID)[0]["main.py"].decode())

    for variant in ("v2", "v3"):
        portal.site.variant = variant
        broken = replay(chromium, cache, f"wr_{variant}_broken")
        effects(portal)
        check_events(broken.events)
        print(variant, broken.fallbacks, broken.calls)
        results = cache.record(broken.events)
        print([r.as_json() for r in results])
        fixed = replay(chromium, cache, f"wr_{variant}_fixed")
        assert (fixed.fallbacks, fixed.calls) == ([], []), variant
        assert effects(portal) == agent_effects
