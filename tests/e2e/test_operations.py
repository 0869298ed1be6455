"""Operating the worker: Flower sees it, and a dead-lettered generation replays once fixed."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from base64 import b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy import select

from tests.factory import linear_run
from tests.support.cli import Ran, run_cli
from tests.support.services import ROOT, free_port, start_flower, stop, wait_for_port
from tests.support.stack import Stack, live_labels, wait_until
from worker.adapters.sql import models as m

AUTH = "ops:s3cret-flower"


def flower_get(port: int, path: str) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        headers={"Authorization": "Basic " + b64encode(AUTH.encode()).decode()},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@contextmanager
def running_flower(stack: Stack, tmp_path: Path) -> Iterator[int]:
    """deploy/flower.sh on a free port, with the stack's broker; yields the port."""
    port = free_port()
    flower = start_flower(port, tmp_path, AUTH, stack.env)
    try:
        wait_for_port(port, timeout_s=60)
        yield port
    finally:
        stop(flower)


def test_flower_lists_the_test_worker_and_the_processed_tasks(stack: Stack, tmp_path: Path) -> None:
    with running_flower(stack, tmp_path) as port:
        stack.start_worker()
        stack.publish(linear_run("wr_flower", "wf_flower", ["a", "b"]))
        wait_until(lambda: stack.settled("wr_flower"), 30, "the run to be generated", stack)

        def seen() -> bool:
            workers = flower_get(port, "/api/workers?refresh=1")
            tasks = flower_get(port, "/api/tasks")
            names = {t.get("name") for t in tasks.values()}
            return (
                bool(workers) and {"scriptcache.block_completed", "scriptcache.generate"} <= names
            )

        wait_until(seen, 90, "Flower to see the worker and its tasks", stack)
        assert any(name.startswith("w") for name in flower_get(port, "/api/workers"))
        denied = urllib.request.Request(f"http://127.0.0.1:{port}/api/workers")
        try:
            urllib.request.urlopen(denied, timeout=5)
            raise AssertionError("Flower answered without a login")
        except urllib.error.HTTPError as exc:
            assert exc.code == 401


def test_a_generation_dead_lettered_for_a_missing_bucket_replays_once_it_exists(
    stack: Stack,
    s3_endpoint: str,
    aws_env: None,
) -> None:
    env = {
        "SCRIPTCACHE_STORE_URL": "s3://sc-replay/scripts",
        "SCRIPTCACHE_S3_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    stack.env.update(env)
    stack.start_worker()
    stack.publish(linear_run("wr_replay", "wf_replay", ["a", "b"]))

    def dead_lettered() -> bool:
        with stack.sessions() as session:
            return session.scalar(select(m.DeadLetter.task_name)) == "scriptcache.generate"

    wait_until(dead_lettered, 30, "the generation to be dead-lettered", stack)
    with stack.sessions() as session:
        entry = session.scalars(select(m.DeadLetter)).one()
        assert "NoSuchBucket" in entry.error or "bucket" in entry.error.lower()
        assert entry.payload == {"workflow_run_id": "wr_replay"}
    assert stack.revisions() == 0

    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="sc-replay")
    cli = [sys.executable, "-m", "worker.cli.main", "dlq", "replay", "--all"]
    done = subprocess.run(
        cli, cwd=ROOT, env={**os.environ, **stack.env}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "replayed 1 of 1" in done.stdout
    wait_until(lambda: stack.revisions("wf_replay") == 1, 30, "the replayed generation", stack)
    with stack.sessions() as session:
        assert session.scalars(select(m.DeadLetter)).all() == []
    again = subprocess.run(
        cli, cwd=ROOT, env={**os.environ, **stack.env}, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0 and "replayed 0 of 0" in again.stdout


def stack_cli(stack: Stack, *args: str, stdin: str | None = None) -> Ran:
    """The command on the stack's settings (in-process: these tests are about what it does)."""
    return run_cli(*args, env=stack.env, stdin=stdin)


def test_scriptcache_publish_sends_a_file_of_events_the_worker_caches(
    stack: Stack, tmp_path: Path
) -> None:
    events = linear_run("wr_cli_pub", "wf_cli_pub", ["a", "b"])
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
    stack.start_worker()
    done = stack_cli(stack, "publish", str(path))
    assert done.returncode == 0, done.stderr
    assert f"published {len(events)} events" in done.stdout
    # run_finished makes the run due at once; with two pool processes a block may still be
    # in intake then, so one or two revisions are both right: the live one holds both blocks.
    wait_until(
        lambda: live_labels(stack, "wf_cli_pub") == {"a", "b"}, 30, "the published run", stack
    )
    assert 1 <= stack.revisions("wf_cli_pub") <= 2
    bad = stack_cli(stack, "publish", "-", stdin='{"type": "nope"}\n')
    assert bad.returncode != 0 and "line 1" in bad.stderr and "type" in bad.stderr


def test_scriptcache_demo_shows_both_branches_cached_and_the_plan(
    stack: Stack, tmp_path: Path
) -> None:
    # The sample through the worker; its closed loop is left out here (no Chromium at that
    # path): tests/browser/test_demo.py runs it, and test_closed_loop_worker.py runs the closed
    # loop through real workers.
    stack.env["SCRIPTCACHE_CHROMIUM_PATH"] = str(tmp_path / "no-chromium")
    stack.start_worker()
    done = stack_cli(stack, "demo", "--timeout", "60")
    assert done.returncode == 0, done.stderr + stack.worker_log()
    assert re.search(r"version \d+ \(live\): 4 cached blocks", done.stdout), done.stdout
    assert "run plan for action='support': mode=code" in done.stdout
    assert "not shown: no Chromium executable at" in done.stdout
    assert "not-a-real-secret" not in done.stdout + stack.worker_log()


def stopped_on_sigterm(script: subprocess.Popen[bytes], whom: str) -> float:
    """SIGTERM to the script or its process group (as honcho and systemd send it); the
    seconds until the script exited, once nothing of its group is left running."""
    t0 = time.monotonic()
    if whom == "group":
        os.killpg(script.pid, signal.SIGTERM)
    else:
        script.send_signal(signal.SIGTERM)
    script.wait(timeout=20)
    waited = time.monotonic() - t0
    time.sleep(0.3)  # a child the script killed dies with its own children
    group = subprocess.run(
        ["ps", "-g", str(script.pid), "-o", "pid=,stat=,args="], capture_output=True, text=True
    )
    # what was killed may stay a zombie (not running) until init reaps it
    left = [line for line in group.stdout.splitlines() if line.split()[1][0] != "Z"]
    assert left == [], f"still running in Flower's group: {left}"
    return waited


@pytest.mark.parametrize("whom", ["group", "script"])
def test_flower_stops_on_sigterm_right_after_it_starts_listening(
    redis_server: str, tmp_path: Path, whom: str
) -> None:
    """The real Flower, signalled as soon as it listens: it stops by itself, or (the race
    above, seen here under CI's load) it is killed at the end of the grace period; either way
    nothing of it is left soon after the grace."""
    port = free_port()
    env = {"SCRIPTCACHE_BROKER_URL": redis_server, "FLOWER_STOP_GRACE_S": "3"}
    script = start_flower(port, tmp_path, AUTH, env)
    try:
        wait_for_port(port, timeout_s=60)
        assert stopped_on_sigterm(script, whom) < 3 + 5  # the grace, and the load's slack
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(script.pid, signal.SIGKILL)


HUNG_FLOWER = """#!/usr/bin/env bash
# What Flower 2.0 does when a SIGTERM comes while it starts: it logs it and does not exit.
trap 'echo "15 detected, shutting down"' TERM
while true; do sleep 0.1; done
"""


@pytest.mark.parametrize("whom", ["group", "script"])
def test_a_flower_that_misses_its_sigterm_is_killed_after_the_grace_period(
    redis_server: str, tmp_path: Path, whom: str
) -> None:
    """Flower 2.0 can miss a SIGTERM that comes while it starts and hang (its handler raises
    SystemExit before its loop runs; its threads keep it alive; seen once under honcho in the
    Procfile test): deploy/flower.sh kills what is left after FLOWER_STOP_GRACE_S. The hang is
    a race, so it is played here by a `celery` first on PATH that ignores SIGTERM."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "celery").write_text(HUNG_FLOWER)
    (fake / "celery").chmod(0o755)
    env = {
        "SCRIPTCACHE_BROKER_URL": redis_server,
        "FLOWER_STOP_GRACE_S": "1",
        "PATH": f"{fake}:{os.environ.get('PATH', '')}",
    }
    script = start_flower(free_port(), tmp_path, AUTH, env, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)  # the stand-in is running and has set its trap
        waited = stopped_on_sigterm(script, whom)
        assert 1 <= waited < 6
        assert script.stderr is not None
        assert "did not stop within 1 s of SIGTERM: killed" in script.stderr.read().decode()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(script.pid, signal.SIGKILL)
        if script.stderr is not None:
            script.stderr.close()
