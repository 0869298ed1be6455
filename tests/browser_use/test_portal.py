"""browser-use's own Agent on the order portal, imported, cached and replayed without it.

The Agent (browser-use's real code: DOM serialisation, indexing, actions, history) runs the
refund task as Alice, driven by the scripted model; its history goes through
`scriptcache import browser-use` and `ingest --generate`; the script then runs as Bob, with
Bob's order, reason and password, and no agent. The site's own records judge the effects.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from tests.browser_use import portal
from tests.browser_use.cache import Cache, replay
from worker.adapters.sql.engine import make_sessionmaker
from worker.adapters.store import MemoryStore
from worker.cli.main import main
from worker.demo.portal.site import Post, Site, serve
from worker.demo.portal.workflow import read_status_total
from worker.producers.browser_use import Imported, TaskRun, from_agent, import_runs

pytestmark = [pytest.mark.browser_use, pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def site() -> Iterator[tuple[Site, str]]:
    shop = Site()
    with serve(shop) as base_url:
        yield shop, base_url


@pytest.fixture
def cache(sqlite_engine: Engine) -> Cache:
    return Cache(make_sessionmaker(sqlite_engine), MemoryStore())


def agent_run(base_url: str, inputs: portal.Inputs) -> tuple[dict[str, Any], float, list[Imported]]:
    """A run by browser-use's Agent: its history as saved, its wall time, and what
    `from_agent` gave in its on_step_end hook (the run still going) and once it was done."""
    from tests.browser_use.agent_run import run_agent

    model = portal.model(base_url, inputs)
    agents: list[Any] = []
    hooked: list[Imported] = []

    async def on_step_end(agent: Any) -> None:
        agents.append(agent)
        hooked.append(from_agent(agent, workflow_permanent_id=portal.WPID, finished=False))

    task = portal.task(base_url, inputs)
    run = asyncio.run(run_agent(task, model, inputs.sensitive_data(), on_step_end=on_step_end))
    done = from_agent(agents[-1], workflow_permanent_id=portal.WPID, parameters=inputs.parameters())
    return run.history, run.wall_s, [*hooked, done]


def test_a_browser_use_run_replays_as_another_user_without_the_agent(
    site: tuple[Site, str], cache: Cache, tmp_path: Path
) -> None:
    shop, base_url = site
    history, agent_s, hooked = agent_run(base_url, portal.ALICE)
    assert shop.posts[-1] == Post("/refunds", {"order": "A-1002", "reason": "damaged"})
    *going, done = hooked
    assert len(going) == 8 and all(len(g.events) == 1 for g in going)  # run_started alone
    assert going[0].events[0]["workflow_run_id"] == done.events[0]["workflow_run_id"]
    assert (
        done.events
        == import_runs(
            [TaskRun(history)],
            workflow_permanent_id=portal.WPID,
            parameters=portal.ALICE.parameters(),
            sensitive_data=portal.ALICE.sensitive_data(),
            workflow_run_id=done.events[0]["workflow_run_id"],
        ).events
    )
    path = tmp_path / "history.json"
    path.write_text(json.dumps(history), encoding="utf-8")

    out = tmp_path / "events.jsonl"
    cli = CliRunner().invoke(
        main,
        [
            "import", "browser-use", str(path), "--workflow-id", portal.WPID,
            "--params", json.dumps(portal.ALICE.parameters()), "--emit", str(out),
        ],
    )  # fmt: skip
    assert cli.exit_code == 0, cli.output
    events = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert (
        events
        == import_runs(
            [TaskRun(history)],
            workflow_permanent_id=portal.WPID,
            parameters=portal.ALICE.parameters(),
        ).events
    )
    assert portal.ALICE.password not in out.read_text(encoding="utf-8")

    (result,) = cache.record(events)
    assert result.regenerated and result.labels == ("task",), result
    files, _definition = cache.live(portal.WPID)
    main_py = files["main.py"].decode()
    assert portal.ALICE.password not in main_py and "alice@shop.test" not in main_py
    assert "credential('portal_password')" in main_py.replace('"', "'"), main_py

    shop.posts.clear()
    shop.views.clear()
    replayed = replay(
        cache,
        portal.WPID,
        portal.BOB.parameters(),
        {portal.SECRET_KEY: portal.BOB.password},
        extractor=read_status_total,
    )
    assert replayed.result.done, replayed.result
    assert shop.posts == [
        Post("/login", {"username": "bob@shop.test", "password": "bob-pw-Zk2#"}),
        Post("/refunds", {"order": "B-2001", "reason": "late"}),
    ]
    assert shop.views == [("bob@shop.test", "B-2001")]
    extracted = [value for _label, _index, value in replayed.result.extracted]
    assert extracted == [{"status": "delivered", "total": 75.25}]
    print(f"\nportal: agent run {agent_s:.2f} s, replay {replayed.wall_s:.2f} s")
