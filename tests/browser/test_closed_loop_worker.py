"""The closed loop through a real worker: a replay's emitted events, published to the broker
as a platform would, repair the cache; the next replay runs from code with 0 fallbacks and
the same server-side effects. Real Chromium, Celery worker processes, PostgreSQL, Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from tests.browser import recordings as rec
from tests.browser.conftest import Portal
from tests.browser.test_closed_loop import check_events, effects
from tests.browser.test_replay import ALICE
from tests.e2e import conftest as e2e
from tests.e2e.conftest import Stack, wait_until
from worker import models as m
from worker import scripts as read
from worker.portal.closed_loop import Run, agent_run, replay_with_agent
from worker.store import open_store

e2e_stack = e2e.stack  # the e2e fixture `stack`: worker processes, PostgreSQL, Redis


def live(stack: Stack) -> tuple[dict[str, bytes], Any, int, int]:
    store = open_store(stack.env["SCRIPTCACHE_STORE_URL"])
    with stack.sessions() as session:
        script = read.resolve_script(session, rec.WPID, None)
        revision = read.select_revision(session, script, None)
        _, definition = read.workflow_definition(session, rec.WPID, None)
    return read.read_files(store, revision), definition, revision.script_id, revision.version


def published(stack: Stack, run: Run, revisions: int) -> None:
    """Publish the run's events; wait until the worker took all of them in and generated
    from all of them."""
    run_id = run.events[0]["workflow_run_id"]
    stack.publish(run.events)

    def done() -> bool:
        received = stack.scalar(select(func.count()).select_from(m.ReceivedEvent)
                                .where(m.ReceivedEvent.workflow_run_id == run_id))
        row = stack.debounce(run_id)
        return (received == len(run.events) and row is not None and row.due_at is None
                and row.processed_seq == row.seq and stack.revisions(rec.WPID) == revisions)

    wait_until(done, 60, f"revision {revisions} from {run_id}", stack)


def replay(chromium: str, stack: Stack, run_id: str) -> Run:
    files, definition, script_id, version = live(stack)
    return asyncio.run(replay_with_agent(chromium, files, definition, ALICE,
                                         script_id=script_id, version=version, run_id=run_id))


def test_replays_that_fall_back_repair_the_cache_through_the_worker(
    chromium: str, portal: Portal, e2e_stack: Stack, tmp_path: Path
) -> None:
    stack = e2e_stack
    stack.start_worker()
    learned = asyncio.run(agent_run(chromium, portal.base_url, ALICE, "wr_agent"))
    agent_effects = effects(portal)
    published(stack, learned, 1)

    clean = replay(chromium, stack, "wr_v1")
    assert (clean.fallbacks, clean.calls) == ([], [])
    assert effects(portal) == agent_effects

    for n, variant in enumerate(("v2", "v3"), start=2):
        portal.site.variant = variant
        broken = replay(chromium, stack, f"wr_{variant}_broken")
        effects(portal)
        check_events(broken.events)
        assert broken.fallbacks and all(f == "element" for _, _, f in broken.fallbacks)
        assert ("act", "sign_in") in broken.calls
        published(stack, broken, n)
        with stack.sessions() as session:
            repair = session.scalar(select(m.ScriptRevision.repair).where(
                m.ScriptRevision.version == n))
        assert repair is True

        fixed = replay(chromium, stack, f"wr_{variant}_fixed")
        assert (fixed.fallbacks, fixed.calls) == ([], []), (variant, [
            e["actions"] for e in fixed.events if e.get("label") == "sign_in"],
            live(stack)[0]["blocks/sign_in.py"].decode(), live(stack)[3],
            [e["actions"] for e in broken.events if e.get("label") == "sign_in"])
        assert effects(portal) == agent_effects, variant
        published(stack, fixed, n)  # a clean replay teaches nothing: no revision
