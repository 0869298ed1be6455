"""The agent plug-in backed by browser-use's Agent (worker/browser/browser_use_agent.py), on
the portal, with the scripted model as the platform's model.

- A first run with no script: the runtime hands the block to `run_block`, browser-use's Agent
  does the task in the replay's own Chromium (attached over CDP), the run's events are
  emitted, cached, and the script replays the task as another user without any agent.
- A site change the script cannot get past (the sign-in button renamed, its id too): the
  runtime asks `act`, browser-use clicks the new button, the run's events repair the cache,
  and the next replay needs no agent.
The site's own records judge every run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.browser_use import portal
from tests.browser_use.cache import CHROMIUM, Cache, replay
from tests.browser_use.model import ScriptedChatModel, Step, index_of
from worker.adapters.sql.engine import make_sessionmaker
from worker.adapters.store import MemoryStore
from worker.browser.agent_run import run_with_agent
from worker.browser.chromium import open_page
from worker.browser.emit import RunInfo, emit_events
from worker.browser.journal import ReplayResult
from worker.demo.portal.site import Post, Site, serve
from worker.demo.portal.workflow import read_status_total
from worker.domain.definition import Definition
from worker.producers.browser_use import TaskRun, import_runs

pytestmark = [pytest.mark.browser_use, pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def cache(sqlite_engine: Engine) -> Cache:
    return Cache(make_sessionmaker(sqlite_engine), MemoryStore())


@pytest.fixture
def site() -> Iterator[tuple[Site, str]]:
    shop = Site()
    with serve(shop) as base_url:
        yield shop, base_url


def plugin(model: ScriptedChatModel) -> Any:
    import tests.browser_use.agent_run  # noqa: F401  (browser-use's environment: no telemetry)
    from worker.browser.browser_use_agent import BrowserUseAgent

    return BrowserUseAgent(model, agent_options={"max_failures": 1})


def definition_for(base_url: str) -> dict[str, Any]:
    """The workflow as `import browser-use` defines it from a run of the task (Alice's)."""
    return {
        "title": "Refund an order",
        "cache_key": "default",
        "parameters": [
            {"key": "username", "parameter_type": "workflow"},
            {"key": "order_number", "parameter_type": "workflow"},
            {"key": "reason", "parameter_type": "workflow"},
            {"key": portal.SECRET_KEY, "parameter_type": "credential"},
        ],
        "blocks": [
            {
                "label": "task",
                "block_type": "task",
                "url": f"{base_url}/login",
                "navigation_goal": portal.task(base_url, portal.TEMPLATES).replace(
                    f"<secret>{portal.SECRET_KEY}</secret>", "{{ " + portal.SECRET_KEY + " }}"
                ),
                "data_extraction_goal": "the order status and total",
            }
        ],
    }


def agent_run(definition: Definition, inputs: portal.Inputs, agent: Any) -> ReplayResult:
    async def run() -> ReplayResult:
        async with open_page(CHROMIUM, devtools=True) as page:
            return await run_with_agent(
                page,
                definition,
                inputs.parameters(),
                {portal.SECRET_KEY: inputs.password},
                agent,
                extractor=read_status_total,
            )

    return asyncio.run(run())


def test_a_first_run_by_the_browser_use_plugin_is_cached_and_replayed_without_it(
    site: tuple[Site, str], cache: Cache
) -> None:
    shop, base_url = site
    definition = Definition.model_validate(definition_for(base_url))
    model = portal.model(base_url, portal.BOB)
    agent = plugin(model)
    result = agent_run(definition, portal.BOB, agent)
    assert result.done, result
    assert agent.calls == [("run_block", "task")]
    task = model.asked  # browser-use's Agent asked the model, step by step
    assert task[0] == "Open the sign-in page" and task[-1] == "Report the refund"
    assert shop.posts[-1] == Post("/refunds", {"order": "B-2001", "reason": "late"})

    info = RunInfo(
        portal.WPID,
        1,
        None,
        None,
        portal.BOB.parameters(),
        {portal.SECRET_KEY: portal.BOB.password},
        "wr_plugin_first",
        run_with="agent",
    )
    events = emit_events(result, definition, info)
    assert portal.BOB.password not in str(events)
    (generated,) = cache.record(events)
    assert generated.regenerated and generated.labels == ("task",), generated

    shop.posts.clear()
    shop.views.clear()
    replayed = replay(
        cache,
        portal.WPID,
        portal.ALICE.parameters(),
        {portal.SECRET_KEY: portal.ALICE.password},
        extractor=read_status_total,
    )
    assert replayed.result.done, replayed.result
    assert shop.posts == [
        Post("/login", {"username": "alice@shop.test", "password": "alice-pw-7Qx!"}),
        Post("/refunds", {"order": "A-1002", "reason": "damaged"}),
    ]
    assert shop.views == [("alice@shop.test", "A-1002")]


def click_new_sign_in() -> ScriptedChatModel:
    """The model's answers to act(): click the button that signs in now, then finish."""
    return ScriptedChatModel(
        [
            Step(
                "Click the sign-in button",
                lambda s: [
                    {"click": {"index": index_of(s, "button", attribute="id=login-submit")}}
                ],
            ),
            Step("Done", lambda s: [{"done": {"text": "Signed in", "success": True}}]),
        ]
    )


def test_the_plugin_acts_where_the_script_breaks_and_the_run_repairs_the_cache(
    site: tuple[Site, str], cache: Cache
) -> None:
    shop, base_url = site
    history = _portal_history(base_url)
    imported = import_runs(
        [TaskRun(history)],
        workflow_permanent_id=portal.WPID,
        parameters=portal.ALICE.parameters(),
        sensitive_data=portal.ALICE.sensitive_data(),
    )
    cache.record(imported.events)

    shop.rename_sign_in = True  # "Log in", id login-submit: the recorded button is gone
    shop.posts.clear()
    agent = plugin(click_new_sign_in())
    replayed = replay(
        cache,
        portal.WPID,
        portal.BOB.parameters(),
        {portal.SECRET_KEY: portal.BOB.password},
        extractor=read_status_total,
        agent=agent,
        selector_timeout_s=2.0,
    )
    assert replayed.result.done, replayed.result
    assert agent.calls == [("act", "task")]
    assert replayed.result.fallback_count() == 1
    assert shop.posts[-1] == Post("/refunds", {"order": "B-2001", "reason": "late"})

    files, definition = cache.live(portal.WPID)
    info = RunInfo(
        portal.WPID,
        1,
        1,
        1,
        portal.BOB.parameters(),
        {portal.SECRET_KEY: portal.BOB.password},
        "wr_plugin_repair",
    )
    (repaired,) = cache.record(emit_events(replayed.result, definition, info))
    assert repaired.regenerated and repaired.version == 2, repaired
    files, _ = cache.live(portal.WPID)
    assert "login-submit" in files["main.py"].decode()

    shop.posts.clear()
    again = replay(
        cache,
        portal.WPID,
        portal.ALICE.parameters(),
        {portal.SECRET_KEY: portal.ALICE.password},
        extractor=read_status_total,
    )
    assert again.result.done and again.result.fallback_count() == 0, again.result
    assert shop.posts[-1] == Post("/refunds", {"order": "A-1002", "reason": "damaged"})


def _portal_history(base_url: str) -> dict[str, Any]:
    """Alice's run by browser-use's Agent on this portal (its port is this test's)."""
    from tests.browser_use.agent_run import run_agent

    model = portal.model(base_url, portal.ALICE)
    run = asyncio.run(
        run_agent(portal.task(base_url, portal.ALICE), model, portal.ALICE.sensitive_data())
    )
    return run.history
