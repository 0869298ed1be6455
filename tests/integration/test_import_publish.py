"""`scriptcache import browser-use --publish`: the imported run's events reach the broker as
the producer contract's Celery messages (a real Redis), in order, one per event."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import redis

from tests.support.cli import run_cli
from tests.support.services import ROOT
from worker.producers.browser_use import TaskRun, import_runs

HISTORY = ROOT / "tests" / "browser_use" / "histories" / "portal.json"
PARAMS = {"username": "alice@shop.test", "order_number": "A-1002", "reason": "Arrived damaged"}

pytestmark = pytest.mark.services


def test_import_publish_sends_one_message_per_event_in_order(redis_server: str) -> None:
    with redis.Redis.from_url(redis_server) as broker:
        broker.delete("scriptcache.events")
        done = run_cli(
            "import", "browser-use", str(HISTORY), "--workflow-id", "wpid_bu_pub",
            "--params", json.dumps(PARAMS), "--publish",
            env={"SCRIPTCACHE_BROKER_URL": redis_server},
        )  # fmt: skip
        assert done.returncode == 0, done
        assert "published 3 events" in done.stdout
        raw = broker.lrange("scriptcache.events", 0, -1)
    messages: list[dict[str, Any]] = [json.loads(m) for m in reversed(raw)]  # LPUSHed
    expected = import_runs(
        [TaskRun(json.loads(HISTORY.read_text(encoding="utf-8")))],
        workflow_permanent_id="wpid_bu_pub",
        parameters=PARAMS,
    ).events
    bodies = [json.loads(base64.b64decode(m["body"]))[0][0] for m in messages]
    assert bodies == expected
    assert [m["headers"]["task"] for m in messages] == [
        "scriptcache.run_started",
        "scriptcache.block_completed",
        "scriptcache.run_finished",
    ]
    assert all("alice@shop.test" not in m["headers"]["argsrepr"] for m in messages)
