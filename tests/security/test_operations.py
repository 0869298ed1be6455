"""Operational surfaces: Flower only with a login, the dead-letter replay only for this
project's tasks, bad bytes on the command line."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import redis
from sqlalchemy import func, select

from tests.keys import SEAL_KEY
from tests.support.services import ROOT
from tests.support.stack import Stack
from worker.adapters.clock import utcnow
from worker.adapters.sql import models as m
from worker.app import deadletter
from worker.domain.errors import PermanentError
from worker.domain.events import parse_line

CLI = str(ROOT / ".venv" / "bin" / "scriptcache")


def _env(stack: Stack) -> dict[str, str]:
    return {**os.environ, **stack.env}


def test_flower_is_started_only_through_the_script_that_demands_a_login() -> None:
    procfile = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()
    )
    assert shlex.split(procfile["flower"]) == ["bash", "deploy/flower.sh"]
    for path in [ROOT / "Procfile", *sorted((ROOT / "deploy").rglob("*"))]:
        if not path.is_file():
            continue
        for line in path.read_text(errors="replace").splitlines():
            if re.search(r"\bflower\b", line) and re.search(r"celery\b.*\bflower\b", line):
                assert path.name == "flower.sh", f"{path}: starts Flower directly: {line}"
    script = (ROOT / "deploy" / "flower.sh").read_text()
    assert "export FLOWER_BASIC_AUTH" in script  # Flower reads it; never on the command line
    assert "--basic-auth" not in script and "--basic_auth" not in script
    assert "FLOWER_UNAUTHENTICATED_API" not in script


def test_flower_refuses_to_start_without_basic_auth(tmp_path: Path) -> None:
    for value in (None, ""):
        env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
        if value is not None:
            env["FLOWER_BASIC_AUTH"] = value
        env["SCRIPTCACHE_VAR_DIR"] = str(tmp_path / "var")
        result = subprocess.run(
            ["bash", "deploy/flower.sh"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 64, result.stderr
        assert "FLOWER_BASIC_AUTH is not set" in result.stderr
        assert not (tmp_path / "var").exists(), "it went on past the check"


def test_dlq_replay_refuses_a_task_that_is_not_ours_and_keeps_the_entry(sec_stack: Stack) -> None:
    with sec_stack.sessions.begin() as session:
        foreign = deadletter.add(
            session,
            seal_key=SEAL_KEY,
            task_name="os.system",
            payload={"cmd": "touch /tmp/x"},
            error="inserted by the test",
            traceback=None,
            attempts=1,
            now=utcnow(),
        )
        not_an_event = deadletter.add(
            session,
            seal_key=SEAL_KEY,
            task_name="scriptcache.block_completed",
            payload=["not", "an", "event"],
            error="bad payload",
            traceback=None,
            attempts=1,
            now=utcnow(),
        )
    result = subprocess.run(
        [CLI, "dlq", "replay", "--all"],
        cwd=ROOT,
        env=_env(sec_stack),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert (
        f"entry {foreign}: not replayed: refusing to replay unknown task 'os.system'"
        in result.stderr
    )
    assert f"entry {not_an_event}: not replayed" in result.stderr
    assert "replayed 0 of 2 entries" in result.stdout
    with sec_stack.sessions() as session:
        kept = session.scalars(select(m.DeadLetter.dead_letter_id)).all()
    assert sorted(kept) == sorted([foreign, not_an_event])
    with redis.Redis.from_url(sec_stack.env["SCRIPTCACHE_BROKER_URL"]) as broker:
        assert [k for k in broker.keys("*") if not k.startswith(b"_kombu")] == [], (
            "something was published"
        )


def test_invalid_utf8_is_refused_with_the_line_by_parse_line_and_the_publish_cli(
    sec_stack: Stack, tmp_path: Path
) -> None:
    """Invalid UTF-8 cannot travel inside a JSON Celery message, so it is tested where bytes
    enter: parse_line and `scriptcache publish`."""
    good = (
        b'{"type":"run_finished","event_id":"e1","occurred_at":"2026-01-01T00:00:00Z",'
        b'"workflow_run_id":"wr_utf8","status":"completed"}'
    )
    bad = good.replace(b"wr_utf8", b"wr_\xff\xfe")
    try:
        parse_line(bad)
    except PermanentError as exc:
        assert "invalid UTF-8 at byte" in str(exc)
    else:
        raise AssertionError("parse_line accepted invalid UTF-8")
    assert parse_line(good).workflow_run_id == "wr_utf8"
    path = tmp_path / "events.jsonl"
    path.write_bytes(good + b"\n" + bad + b"\n")
    result = subprocess.run(
        [CLI, "publish", str(path)],
        cwd=ROOT,
        env=_env(sec_stack),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "line 2: invalid UTF-8" in result.stderr
    assert "Traceback" not in result.stderr
    with redis.Redis.from_url(sec_stack.env["SCRIPTCACHE_BROKER_URL"]) as broker:
        assert broker.llen("scriptcache.events") == 0, "a partial file was published"
    with sec_stack.sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.DeadLetter)) == 0
