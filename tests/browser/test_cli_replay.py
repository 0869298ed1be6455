"""`scriptcache replay` end to end: ingest a recording, replay it in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.browser import recordings as rec
from tests.browser.test_replay import ALICE
from tests.support.browser import run_async
from tests.support.portal import Portal
from worker.cli.main import main
from worker.cli.replay import replay_command
from worker.demo.portal.closed_loop import agent_run
from worker.demo.portal.site import Post


@pytest.fixture
def env(tmp_path: Path, chromium: str) -> dict[str, str]:
    return {
        "SCRIPTCACHE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "SCRIPTCACHE_STORE_URL": f"file://{tmp_path / 'blobs'}",
        "SCRIPTCACHE_CHROMIUM_PATH": chromium,
    }


def ingested(env: dict[str, str], portal: Portal, tmp_path: Path) -> None:
    events = tmp_path / "run.jsonl"
    events.write_text(
        "".join(json.dumps(e) + "\n" for e in rec.agent_run("run_cli", portal.base_url, ALICE))
    )
    for args in (["migrate"], ["ingest", "--generate", str(events)]):
        result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output


def replay(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(replay_command, [rec.WPID, *args], env=env)


def test_replay_prints_each_block_as_it_starts_and_ends_and_a_summary(
    env: dict[str, str], portal: Portal, tmp_path: Path
) -> None:
    ingested(env, portal, tmp_path)

    result = replay(
        env,
        "--params",
        json.dumps(ALICE.parameters()),
        "--credentials",
        json.dumps(ALICE.credentials()),
    )

    # `settle` runs live: without an agent it is left undone, and the exit status says so.
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines()[-1] == (
        "replay incomplete: 1 blocks left undone (settle): a block not cached yet needs an"
        " agent (--agent), a block that runs live needs the platform"
    )
    lines = result.stdout.splitlines()
    assert lines[0] == f"replaying {rec.WPID} script 1 v1 (cache key 'default:127.0.0.1')"
    assert lines[1] == "start  sign_in"
    assert lines[2].startswith("end    sign_in: code in ")
    assert "start  open_order #2" in lines
    assert "end    settle: skipped in 0.00 s  (runs live: not replayable from the script)" in lines
    assert lines[-1].startswith("done in ")
    assert lines[-1].endswith("9 from code, 0 with fallback, 1 skipped, 0 failed; 3 extracted")
    assert ALICE.password not in result.output
    assert portal.site.posts[-1] == Post("/refunds", {"order": "A-1003", "reason": "damaged"})


def test_replay_json_reports_a_missing_selector_and_fails(
    env: dict[str, str], portal: Portal, tmp_path: Path
) -> None:
    ingested(env, portal, tmp_path)
    portal.site.rename_sign_in = True
    secrets = tmp_path / "secrets.json"
    secrets.write_text(json.dumps(ALICE.credentials()))

    result = replay(
        env,
        "--params",
        json.dumps(ALICE.parameters()),
        "--credentials",
        f"@{secrets}",
        "--selector-timeout-s",
        "0.5",
        "--json",
    )

    assert result.exit_code == 1
    events = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert events[0] == {"event": "block_started", "label": "sign_in", "loop_index": None}
    summary = events[-1]["summary"]
    assert summary["ok"] is False
    assert "block 'sign_in': click on \"//button[normalize-space()='Sign in']\"" in summary["error"]
    assert "Error: replay failed: block 'sign_in'" in result.output


def test_replay_refuses_to_start_without_the_credentials_the_script_reads(
    env: dict[str, str], portal: Portal, tmp_path: Path
) -> None:
    ingested(env, portal, tmp_path)

    result = replay(env, "--params", json.dumps(ALICE.parameters()))

    assert result.exit_code == 2
    assert "missing credentials: password" in result.output


def test_replay_with_an_agent_emits_the_run_whose_ingest_repairs_the_script(
    env: dict[str, str], portal: Portal, tmp_path: Path
) -> None:
    learned = run_async(
        agent_run(env["SCRIPTCACHE_CHROMIUM_PATH"], portal.base_url, ALICE, "wr_learned")
    )
    events = tmp_path / "learned.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in learned.events))
    for args in (["migrate"], ["ingest", "--generate", str(events)]):
        assert CliRunner().invoke(main, args, env=env).exit_code == 0
    portal.site.variant = "v2"
    emitted = tmp_path / "replayed.jsonl"

    result = replay(
        env,
        "--params",
        json.dumps(ALICE.parameters()),
        "--credentials",
        json.dumps(ALICE.credentials()),
        "--selector-timeout-s",
        "1",
        "--agent",
        "worker.demo.portal.closed_loop:standin",
        "--run-id",
        "wr_cli",
        "--emit",
        str(emitted),
    )
    repaired = CliRunner().invoke(main, ["ingest", "--generate", str(emitted)], env=env)

    assert result.exit_code == 3, result.output  # `settle` runs live: the CLI has no platform
    assert "replay incomplete: 1 blocks left undone (settle)" in result.stderr
    assert "0 with fallback" in result.output and ALICE.password not in result.output
    # v2 moved every element: each found again by its tag and text, without the agent
    assert (
        "  relocated: sign_in click '/html/body/form/button' -> "
        "'/html/body/div[2]/main/form/button' (\"Click 'Sign in'\")" in result.output
    )
    lines = emitted.read_text().splitlines()
    assert ALICE.password not in emitted.read_text()
    first, last = json.loads(lines[0]), json.loads(lines[-1])
    assert (first["type"], first["workflow_run_id"], first["run_with"], first["script"]) == (
        "run_started",
        "wr_cli",
        "code",
        {"script_id": 1, "version": 1},
    )
    assert (last["type"], last["status"]) == ("run_finished", "completed")
    assert repaired.exit_code == 0, repaired.output
    outcome = json.loads(repaired.output)
    assert (outcome["regenerated"], outcome["version"]) == (True, 2)
    assert outcome["reason"] == (
        "repair: cached blocks fell back: each_order, request_refund, sign_in"
    )


def test_replay_emits_to_stdout_with_progress_on_stderr_and_names_a_bad_agent(
    env: dict[str, str], portal: Portal, tmp_path: Path
) -> None:
    ingested(env, portal, tmp_path)
    args = [
        "--params",
        json.dumps(ALICE.parameters()),
        "--credentials",
        json.dumps(ALICE.credentials()),
    ]

    result = CliRunner().invoke(replay_command, [rec.WPID, *args, "--emit", "-"], env=env)
    bad = replay(env, *args, "--agent", "worker.demo.portal.closed_loop:no_such_agent")

    assert result.exit_code == 3, result.output  # `settle` runs live: left undone
    types = [json.loads(line)["type"] for line in result.stdout.splitlines()]
    assert types[0] == "run_started" and types[-1] == "run_finished"
    assert types.count("block_completed") == 11  # 1 + 3 x 2 + loop, route, refund, settle
    assert "done in" in result.stderr
    assert bad.exit_code == 2 and "no_such_agent" in bad.output
