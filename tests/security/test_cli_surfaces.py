"""Operational surfaces as an operator meets them, each through the real command or process:
Flower's login on every page and its password off the command line, placeholder passwords,
`plan` and generation agreeing on a secret cache key, a Redis password in `publish`, an ingest
file of good, bad and good runs, no transaction across the `dlq purge` prompt, missing files,
and each Procfile line from a fresh checkout."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]
from sqlalchemy.orm import Session, sessionmaker

from tests.factory import RunBuilder, definition, linear_run, task_block
from tests.keys import SEAL_KEY
from tests.support.services import ROOT, free_port, wait_for_port
from tests.support.stack import TEST_ENV
from worker.adapters.clock import utcnow
from worker.adapters.sql.engine import make_engine, make_sessionmaker
from worker.app import deadletter

CLI = str(ROOT / ".venv" / "bin" / "scriptcache")
BIN = str(Path(sys.executable).parent)
AUTH = "ops:a-real-flower-pass"
CANARY = "CANARY-41c7-plan-s3cr3t"


def run_cli(
    args: list[str], env: dict[str, str], **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        **kwargs,
    )


def sqlite_env(tmp_path: Path) -> dict[str, str]:
    return {
        "SCRIPTCACHE_DATABASE_URL": f"sqlite:///{tmp_path / 'sc.db'}",
        "SCRIPTCACHE_STORE_URL": f"file://{tmp_path / 'blobs'}",
    }


def write_events(path: Path, events: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


# --- Flower ----------------------------------------------------------------------------------


def flower_env(tmp_path: Path, port: int, redis_server: str, auth: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "FLOWER_BASIC_AUTH"}
    env.update(
        TEST_ENV,
        SCRIPTCACHE_BROKER_URL=redis_server,
        FLOWER_PORT=str(port),
        SCRIPTCACHE_VAR_DIR=str(tmp_path / "var"),
        PATH=f"{BIN}:{env.get('PATH', '')}",
        SCRIPTCACHE_DATABASE_URL=f"sqlite:///{tmp_path / 'sc.db'}",
    )
    if auth is not None:
        env["FLOWER_BASIC_AUTH"] = auth
    return env


def flower_pages() -> list[str]:
    """Every route Flower serves, with a value in place of each parameter."""
    import flower.urls

    paths = []
    for handler in flower.urls.handlers:
        pattern = handler[0] if isinstance(handler, tuple) else handler.regex.pattern
        path = re.sub(r"\(\.[*+]\)", "x", pattern.rstrip("$")).replace("/?", "")
        paths.append("/" if path == ".*" else path)
    return sorted(set(paths))


def test_every_flower_page_needs_the_login_and_the_password_is_not_on_the_command_line(
    tmp_path: Path, redis_server: str
) -> None:
    port = free_port()
    flower = subprocess.Popen(
        ["bash", "deploy/flower.sh"],
        cwd=ROOT,
        env=flower_env(tmp_path, port, redis_server, AUTH),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, timeout_s=60)
        cmdline = Path(f"/proc/{flower.pid}/cmdline").read_bytes().replace(b"\0", b" ")
        assert b"flower" in cmdline and AUTH.split(":")[1].encode() not in cmdline, cmdline
        pages = flower_pages()
        assert len(pages) > 25
        opened = {}
        for page in pages:
            for method in ("GET", "POST"):
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}{page}",
                    method=method,
                    data=b"" if method == "POST" else None,
                )
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        opened[f"{method} {page}"] = response.status
                except urllib.error.HTTPError as exc:
                    if exc.code not in (401, 403, 404, 405):
                        opened[f"{method} {page}"] = exc.code
        # Flower serves these without a login by design (docs/ARCHITECTURE.md): counters, "OK", its
        # logout page and its static assets; it listens on 127.0.0.1 unless FLOWER_ADDRESS
        # says otherwise. None shows a task or its arguments.
        assert set(opened) <= {"GET /metrics", "GET /healthcheck", "GET /logout"}, opened
        login = base64.b64encode(AUTH.encode()).decode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/workers", headers={"Authorization": f"Basic {login}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
    finally:
        os.killpg(flower.pid, signal.SIGTERM)
        flower.wait(timeout=30)


@pytest.mark.parametrize(
    "auth",
    [
        "admin:CHANGE-ME",
        "admin:change_me_please",
        "ops:short",
        "admin:password",
        "ops:ops",
        "nopassword",
        ":longenough-pw",
        f"{AUTH},admin:CHANGE-ME",
    ],
)
def test_flower_refuses_placeholder_and_short_passwords(
    tmp_path: Path, redis_server: str, auth: str
) -> None:
    result = subprocess.run(
        ["bash", "deploy/flower.sh"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env=flower_env(tmp_path, free_port(), redis_server, auth),
    )
    assert result.returncode == 64, result.stderr
    assert "refusing to start Flower" in result.stderr
    assert auth not in result.stderr


def test_the_kubernetes_secret_ships_no_flower_password() -> None:
    docs = list(yaml.safe_load_all((ROOT / "deploy" / "k8s" / "scriptcache.yaml").read_text()))
    secret = next(d for d in docs if d and d.get("kind") == "Secret")
    assert secret["stringData"]["FLOWER_BASIC_AUTH"] == ""


# --- plan, publish, ingest -------------------------------------------------------------------


def secret_key_run(run_id: str) -> list[dict[str, Any]]:
    params = [
        {"key": "tenant", "parameter_type": "context"},
        {"key": "password", "parameter_type": "credential"},
    ]
    run = RunBuilder(
        run_id,
        "wf_secret_key",
        definition([task_block("a")], cache_key="{{ tenant }}-{{ password }}", parameters=params),
        parameters={"tenant": "acme", "password": CANARY},
    )
    run.block("a")
    return run.finish()


def test_plan_and_generation_refuse_a_cache_key_that_uses_a_credential_alike(
    tmp_path: Path,
) -> None:
    env = sqlite_env(tmp_path)
    events = write_events(tmp_path / "run.jsonl", secret_key_run("wr_secret_key"))
    assert run_cli(["migrate"], env).returncode == 0

    generated = run_cli(["ingest", "--generate", str(events)], env)
    plan = run_cli(
        ["plan", "wf_secret_key", "--params", json.dumps({"tenant": "acme", "password": CANARY})],
        env,
    )

    assert generated.returncode == 1 and plan.returncode == 1
    reason = "uses the secret parameter(s) password"
    assert reason in json.loads(generated.stdout.splitlines()[0])["error"]
    assert reason in plan.stderr and "Traceback" not in plan.stderr
    for output in (generated.stdout, generated.stderr, plan.stdout, plan.stderr):
        assert CANARY not in output


def test_publish_never_prints_the_broker_password(tmp_path: Path) -> None:
    port = free_port()
    password = "p@ssw0rd-broker"
    redis = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--requirepass",
            password,
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        events = write_events(tmp_path / "e.jsonl", linear_run("wr_pub", "wf_pub", ["a"]))
        result = run_cli(
            ["publish", str(events)],
            {
                **sqlite_env(tmp_path),
                "SCRIPTCACHE_BROKER_URL": f"redis://:{password}@127.0.0.1:{port}/0",
            },
        )
    finally:
        redis.terminate()
        redis.wait(timeout=10)
    assert result.returncode == 0, result.stderr
    assert "published 3 events" in result.stdout
    for part in (password, "ssw0rd", "p@ss"):
        assert part not in result.stdout + result.stderr


def test_ingest_generate_reports_every_run_and_fails_at_the_end_if_one_failed(
    tmp_path: Path,
) -> None:
    good_1 = linear_run("wr_good_1", "wf_good_1", ["a"])
    bad = RunBuilder(
        "wr_bad",
        "wf_bad",
        definition(
            [task_block("a")], cache_key="{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}"
        ),
    )
    bad.block("a")
    stray = RunBuilder("wr_stray", "wf_stray", definition([task_block("a")]))
    stray.block("a")
    stray.block("not_in_definition")
    good_2 = linear_run("wr_good_2", "wf_good_2", ["b"])
    events = write_events(
        tmp_path / "mixed.jsonl", [*good_1, *bad.finish(), *stray.finish(), *good_2]
    )
    with events.open("a") as out:  # and a line that is not an event at all
        out.write('{"type": "block_completed", "event_id": \n')
    env = sqlite_env(tmp_path)
    assert run_cli(["migrate"], env).returncode == 0

    result = run_cli(["ingest", "--generate", str(events)], env)

    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["workflow_run_id"] for line in lines] == [
        "wr_good_1",
        "wr_bad",
        "wr_stray",
        "wr_good_2",
    ]
    assert lines[0]["regenerated"] and lines[3]["regenerated"]
    assert "RecursionError" in lines[1]["error"] and "cache_key" in lines[1]["error"]
    # Issue 23, item 4: the stray event is set aside with its reason, its run's declared
    # blocks are cached (as the worker does), and a malformed line stops nothing.
    assert lines[2]["regenerated"] and lines[2]["labels"] == ["a"]
    aside = [line for line in result.stderr.splitlines() if line.startswith("set aside:")]
    assert len(aside) == 2
    assert "'not_in_definition' is not in the definition" in aside[0]
    assert (
        "not valid JSON" in aside[1] and f"line {len(events.read_text().splitlines())}" in aside[1]
    )
    assert "1 of 4 runs failed" in result.stderr and "Traceback" not in result.stderr


def test_ingest_sets_aside_bad_lines_and_records_the_files_good_runs(tmp_path: Path) -> None:
    events = tmp_path / "runs.jsonl"
    good = [json.dumps(e) for e in linear_run("wr_ok", "wf_ok", ["a"])]
    events.write_text("\n".join([good[0], "not json", good[1], '{"type": "nope"}', *good[2:]]))
    env = sqlite_env(tmp_path)
    assert run_cli(["migrate"], env).returncode == 0

    result = run_cli(["ingest", str(events)], env)

    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["runs"] == ["wr_ok"] and summary["events"] == len(good)
    assert [item["line"] for item in summary["set_aside"]] == [2, 4]
    assert all(item["reason"] for item in summary["set_aside"])


@pytest.mark.parametrize("command", [["ingest"], ["ingest", "--generate"], ["render"], ["publish"]])
@pytest.mark.parametrize("what", ["missing", "directory"])
def test_a_missing_file_or_a_directory_is_one_line_and_exit_2(
    tmp_path: Path, command: list[str], what: str
) -> None:
    path = tmp_path / "nothing.jsonl" if what == "missing" else tmp_path
    result = run_cli([*command, str(path)], sqlite_env(tmp_path))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert ("does not exist" if what == "missing" else "is a directory") in result.stderr
    assert len([line for line in result.stderr.splitlines() if line.startswith("Error")]) == 1


# --- dlq purge --------------------------------------------------------------------------------


def test_no_transaction_is_open_while_dlq_purge_waits_at_its_prompt(tmp_path: Path) -> None:
    env = sqlite_env(tmp_path)
    assert run_cli(["migrate"], env).returncode == 0
    engine = make_engine(env["SCRIPTCACHE_DATABASE_URL"])
    sessions: sessionmaker[Session] = make_sessionmaker(engine)

    def add(task: str) -> int:
        with sessions.begin() as session:
            return deadletter.add(
                session,
                seal_key=SEAL_KEY,
                task_name=task,
                payload={"workflow_run_id": "r"},
                error="e",
                traceback=None,
                attempts=1,
                now=utcnow(),
            )

    first = add("scriptcache.run_finished")
    purge = subprocess.Popen(
        [CLI, "dlq", "purge", "--all"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert purge.stdout is not None and purge.stdin is not None
        prompt = ""
        deadline = time.monotonic() + 60
        while "purge 1 entries?" not in prompt and time.monotonic() < deadline:
            prompt += purge.stdout.read(1)
        assert "purge 1 entries?" in prompt
        started = time.monotonic()
        second = add("scriptcache.block_completed")  # a writer while the prompt waits
        assert time.monotonic() - started < 2
        purge.stdin.write("y\n")
        purge.stdin.flush()
        out, err = purge.communicate(timeout=60)
    finally:
        if purge.poll() is None:
            purge.kill()
        engine.dispose()
    assert purge.returncode == 0, err
    assert "purged 1 entries" in out
    with make_sessionmaker(make_engine(env["SCRIPTCACHE_DATABASE_URL"]))() as session:
        assert [e.dead_letter_id for e in deadletter.entries(session)] == [second]
    assert first != second


# --- Procfile ----------------------------------------------------------------------------------


def fresh_checkout(tmp_path: Path) -> Path:
    """The committed tree, as a fresh clone has it (no var/, no .venv)."""
    archive = tmp_path / "tree.tar"
    subprocess.run(
        ["git", "archive", "--format=tar", "-o", str(archive), "HEAD"], cwd=ROOT, check=True
    )
    tree = tmp_path / "checkout"
    with tarfile.open(archive) as tar:
        tar.extractall(tree, filter="data")
    # What is not committed yet in this worktree counts too.
    for name in ("Procfile", "deploy/flower.sh"):
        shutil.copy(ROOT / name, tree / name)
    return tree


@pytest.mark.parametrize("line", ["beat", "flower", "worker"])
def test_each_procfile_line_starts_from_a_fresh_checkout(
    tmp_path: Path, redis_server: str, line: str
) -> None:
    tree = fresh_checkout(tmp_path)
    assert not (tree / "var").exists()
    port = free_port()
    env = {
        **os.environ,
        **TEST_ENV,
        "SCRIPTCACHE_BROKER_URL": redis_server,
        "FLOWER_BASIC_AUTH": AUTH,
        "FLOWER_PORT": str(port),
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(tree),
    }
    for name in ("SCRIPTCACHE_DATABASE_URL", "SCRIPTCACHE_STORE_URL", "SCRIPTCACHE_VAR_DIR"):
        env.pop(name, None)
    log = tmp_path / "honcho.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [f"{BIN}/honcho", "start", line],
            cwd=tree,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ready = {
        "beat": lambda: any((tree / "var").glob("celerybeat-schedule*")),
        "flower": lambda: _listening(port),
        "worker": lambda: "ready." in log.read_text(errors="replace"),
    }[line]
    try:
        deadline = time.monotonic() + 90
        while not ready() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.3)
        assert ready(), log.read_text(errors="replace")[-3000:]
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)
    assert "No such file or directory" not in log.read_text(errors="replace")


def _listening(port: int) -> bool:
    try:
        wait_for_port(port, timeout_s=0.2)
    except RuntimeError:
        return False
    return True
