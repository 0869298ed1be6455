"""browser-use's own Agent on the real application (tests/realapp: Django's admin), imported,
cached and replayed without it by another user on another order with another status. The
application's own database judges the effects (its orders and its admin log)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.browser_use import desk
from tests.browser_use.cache import Cache, replay
from tests.realapp.app import DeskApp, Users, seeded_database
from worker.adapters.sql.engine import make_sessionmaker
from worker.adapters.store import MemoryStore
from worker.producers.browser_use import TaskRun, import_runs

pytestmark = [pytest.mark.browser_use, pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DeskApp, Users]]:
    seeded, users = seeded_database(tmp_path_factory.mktemp("desk-seed"))
    with DeskApp.start(seeded, users, tmp_path_factory.mktemp("desk")) as running:
        yield running, users


@pytest.fixture
def cache(sqlite_engine: Engine) -> Cache:
    return Cache(make_sessionmaker(sqlite_engine), MemoryStore())


def test_a_browser_use_run_on_the_admin_replays_for_another_user_and_order(
    app: tuple[DeskApp, Users], cache: Cache, tmp_path: Path
) -> None:
    from tests.browser_use.agent_run import run_agent

    running, users = app
    clerk = desk.Inputs("clerk", users.clerk_password, "SO-1002", "Refunded")
    before = running.state()
    model = desk.model(running.base_url, clerk)
    run = asyncio.run(run_agent(desk.task(running.base_url, clerk), model, clerk.sensitive_data()))
    after = running.state()
    assert {n: o.status for n, (_, o) in after.orders_changed_since(before).items()} == {
        "SO-1002": "refunded"
    }
    (history_file := tmp_path / "history.json").write_text(json.dumps(run.history))

    imported = import_runs(
        [TaskRun(json.loads(history_file.read_text()))],
        workflow_permanent_id=desk.WPID,
        parameters=clerk.parameters(),
    )
    text = json.dumps(imported.events)
    assert users.clerk_password not in text
    (generated,) = cache.record(imported.events)
    assert generated.regenerated, generated
    main_py = cache.live(desk.WPID)[0]["main.py"].decode()
    assert users.clerk_password not in main_py and "SO-1002" not in main_py

    admin = desk.Inputs("admin", users.admin_password, "SO-1005", "On hold")
    replayed = replay(cache, desk.WPID, admin.parameters(), {desk.SECRET_KEY: admin.password})
    assert replayed.result.done and replayed.result.fallback_count() == 0, replayed.result
    final = running.state()
    changed = final.orders_changed_since(after)
    assert {n: o.status for n, (_, o) in changed.items()} == {"SO-1005": "on_hold"}
    assert [(e.username, e.object_repr, e.action) for e in final.log_since(after)] == [
        ("admin", "SO-1005", "changed")
    ]
    assert final.tickets_since(after) == ()
    print(f"\nhelp desk: agent run {run.wall_s:.2f} s, replay {replayed.wall_s:.2f} s")
