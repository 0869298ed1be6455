"""A credential canary through a real worker while its database fails and comes back: every
intake is retried, and nothing Celery shows or re-sends holds the value. Checked in every
Celery event (a receiver attached as Flower is), in every message a retry re-sent to Redis,
in Flower's API and its stored state, in the tables, the blobs, the dead-letter queue and
the logs; the generated script refers to the credential by key."""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.factory import RunBuilder, definition, task_block
from tests.support.services import PG_ADMIN_URL, free_port, start_flower, wait_for_port
from tests.support.stack import (
    Stack,
    all_logs,
    blobs_dir,
    dump_tables,
    live_files,
    live_labels,
    wait_until,
)

CANARY = "CANARY-e2e-6b1f-s3cr3t-VALUE"
AUTH = "ops:a-real-flower-pass"
PARAMS = [
    {"key": "email", "parameter_type": "workflow"},
    {"key": "password", "parameter_type": "credential", "default": CANARY},
]


def canary_run(run_id: str, wpid: str) -> list[dict[str, Any]]:
    builder = RunBuilder(
        run_id,
        wpid,
        definition([task_block("sign_in", "login")], parameters=PARAMS),
        parameters={"email": "a@example.test", "password": CANARY},
    )
    builder.block(
        "sign_in",
        "login",
        actions=[
            {
                "action_type": "input_text",
                "xpath": "//input[@name='email']",
                "parameter_key": "email",
                "text": "a@example.test",
                "intention": "Type the email",
            },
            {
                "action_type": "input_text",
                "xpath": "//input[@name='password']",
                "text": CANARY,
                "intention": f"Type {CANARY}",
            },  # typed without its key, and inside other text
            {
                "action_type": "input_text",
                "xpath": "//input[@name='again']",
                "text": CANARY,
                "parameter_key": "password",
                "intention": "Type it again",
            },
            {"action_type": "click", "xpath": "//button", "intention": "Sign in"},
        ],
    )
    events = builder.finish()
    events[1]["task"]["url"] = f"https://bank.test/login?pw={CANARY}"
    return events


class Receiver:
    """Every Celery event on the broker, as Flower receives them."""

    def __init__(self, broker_url: str) -> None:
        self.events: list[dict[str, Any]] = []
        self.app = Celery("receiver", broker=broker_url, set_as_current=False)
        self._receiver: Any = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with self.app.connection() as conn:
            self._receiver = self.app.events.Receiver(conn, handlers={"*": self.events.append})
            self._receiver.capture(limit=None, timeout=None, wakeup=True)

    def of(self, kind: str, name: str | None = None) -> list[dict[str, Any]]:
        """Events of a kind, for tasks of a name (events after task-received carry only the
        task's id, as Flower sees them)."""
        events = list(self.events)
        names = {e.get("uuid"): e.get("name") for e in events if e.get("name")}
        return [
            e
            for e in events
            if e.get("type") == kind and (name is None or names.get(e.get("uuid")) == name)
        ]

    def stop(self) -> None:
        if self._receiver is not None:
            self._receiver.should_stop = True
        self._thread.join(timeout=10)
        self.app.close()


@contextmanager
def database_refusing_connections(pg_url: str) -> Iterator[None]:
    """New connections to the test's database are refused and open ones are cut, until the
    block ends (only this test's database is touched)."""
    name = pg_url.rsplit("/", 1)[1]
    admin = create_engine(PG_ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"
                ),
                {"name": name},
            )
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true'))
        admin.dispose()


def resent_bodies(broker_url: str) -> list[str]:
    """The bodies of every message in Redis that a retry re-sent (headers.retries >= 1): in
    the queues and among the unacknowledged."""
    found: list[str] = []
    with redis.Redis.from_url(broker_url) as r:
        raw: list[bytes] = []
        for key in r.keys("*"):
            kind = r.type(key)
            if kind == b"list":
                raw += r.lrange(key, 0, -1)
            elif kind == b"hash":
                raw += list(r.hgetall(key).values())
        for item in raw:
            try:
                message = json.loads(item)
            except ValueError:
                continue
            message = message[0] if isinstance(message, list) else message
            if not isinstance(message, dict) or "body" not in message:
                continue
            if int((message.get("headers") or {}).get("retries") or 0) >= 1:
                found.append(base64.b64decode(message["body"]).decode("utf-8", "replace"))
    return found


def flower_get(port: int, path: str) -> str:
    login = base64.b64encode(AUTH.encode()).decode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Basic {login}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(response.read().decode())


def test_a_credential_stays_out_of_everything_celery_shows_through_retries(
    sec_stack: Stack, pg_url: str, tmp_path: Path
) -> None:
    broker = sec_stack.env["SCRIPTCACHE_BROKER_URL"]
    sec_stack.env.update(SCRIPTCACHE_MAX_RETRIES="30")  # more than the outage needs
    port = free_port()
    var = tmp_path / "flower-var"
    flower = start_flower(port, var, AUTH, sec_stack.env)
    receiver = Receiver(broker)
    try:
        wait_for_port(port, timeout_s=60)
        sec_stack.start_beat()
        sec_stack.start_worker()
        first = canary_run("wr_up_first", "wf_up_first")  # run_started while the database is up
        second = canary_run("wr_all_down", "wf_all_down")  # every event while it is down
        bad = dict(first[1], event_id="evt_bad_canary", status="exploded")
        sec_stack.publish([first[0], bad])
        wait_until(
            lambda: (
                len(receiver.of("task-succeeded")) >= 1 and len(receiver.of("task-failed")) >= 1
            ),
            60,
            "run_started recorded and the bad block dead-lettered",
            sec_stack,
        )

        with database_refusing_connections(pg_url):
            sec_stack.publish([second[0]])
            wait_until(
                lambda: receiver.of("task-retried", "scriptcache.run_started"),
                60,
                "the run_started to be retried",
                sec_stack,
            )
            sec_stack.publish(first[1:] + second[1:])
            wait_until(
                lambda: len(receiver.of("task-retried", "scriptcache.block_completed")) >= 4,
                60,
                "every block event to be retried",
                sec_stack,
            )
            bodies = resent_bodies(broker)
        assert bodies, "no re-sent message was found in Redis"
        assert all(CANARY not in body for body in bodies), [b for b in bodies if CANARY in b][:1]

        for wpid in ("wf_up_first", "wf_all_down"):
            wait_until(
                lambda wpid=wpid: live_labels(sec_stack, wpid) == {"sign_in"},
                90,
                f"{wpid} to be generated after the outage",
                sec_stack,
            )
            main = live_files(sec_stack, wpid)["main.py"].decode()
            assert main.count("ctx.credential('password')") == 2, main
        wait_until(
            lambda: '"scriptcache.block_completed"' in flower_get(port, "/api/tasks"),
            60,
            "Flower to see the tasks",
            sec_stack,
        )
        flower_tasks = flower_get(port, "/api/tasks")
    finally:
        receiver.stop()
        os.killpg(flower.pid, signal.SIGTERM)  # Flower saves its state as it stops
        flower.wait(timeout=30)
        sec_stack.stop_all()

    kinds = {e["type"] for e in receiver.events}
    assert {
        "task-sent",
        "task-received",
        "task-retried",
        "task-succeeded",
        "task-failed",
    } <= kinds, kinds
    leaked = [e for e in receiver.events if CANARY in json.dumps(e, default=str)]
    assert leaked == [], leaked[:2]
    assert CANARY not in flower_tasks
    stored = [p for p in var.rglob("*") if p.is_file()]
    assert stored and sum(p.stat().st_size for p in stored) > 0, "Flower stored no state"
    assert all(CANARY.encode() not in p.read_bytes() for p in stored)
    tables = dump_tables(sec_stack)
    assert "evt_bad_canary" in tables and "wr_all_down" in tables
    assert CANARY not in tables, [line for line in tables.splitlines() if CANARY in line][:3]
    assert all(
        CANARY.encode() not in p.read_bytes()
        for p in blobs_dir(sec_stack).rglob("*")
        if p.is_file()
    )
    logs = all_logs(sec_stack)
    assert "dead_lettered" in logs and "Retry in" in logs
    assert CANARY not in logs, [line for line in logs.splitlines() if CANARY in line][:3]
