"""The `scriptcache` command (issue 4; in-process, tests/support/cli.py): the four reference scenarios end
to end through `ingest FILE --generate`, the run plan and the `script` commands.

Real PostgreSQL (a fresh migrated database per test) and both blob stores: moto's S3 server
over HTTP and a local directory. Settings reach the command through its environment only.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factory import RunBuilder, branching_run, definition, task_block
from tests.keys import SEAL_KEY_TEXT
from tests.support.cli import Ran, run_cli
from tests.support.services import SAMPLES
from worker.adapters.sql import models as m
from worker.adapters.store import BlobStore, open_store

SAMPLE = SAMPLES / "order-portal.jsonl"
PORTAL = "wpid_order_portal"
SECRET = "not-a-real-secret"  # the sample's credential value


@dataclass
class Cli:
    """The command with its environment, plus in-process access to the same store."""

    env: dict[str, str]
    store: BlobStore
    tmp: Path

    def run(self, *args: str, ok: bool = True) -> Ran:
        done = run_cli(*args, env=self.env)
        assert (done.returncode == 0) == ok, (args, done.returncode, done.stdout, done.stderr)
        return done

    def json_lines(self, *args: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.run(*args).stdout.splitlines() if line]

    def ingest(self, *runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """`ingest FILE --generate` over a JSON Lines file of these runs' events."""
        source = self.tmp / f"events-{len(list(self.tmp.glob('events-*')))}.jsonl"
        source.write_text(
            "".join(json.dumps(e) + "\n" for run in runs for e in run), encoding="utf-8"
        )
        return self.json_lines("ingest", str(source), "--generate")


@pytest.fixture(params=["local", "s3"])
def cli(request: pytest.FixtureRequest, pg_url: str, tmp_path: Path) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRIPTCACHE_")}
    env["SCRIPTCACHE_DATABASE_URL"] = pg_url
    env["SCRIPTCACHE_SEAL_KEY"] = SEAL_KEY_TEXT
    env["COLUMNS"] = "250"  # rich tables: wide enough not to truncate what the tests read
    if request.param == "s3":
        endpoint: str = request.getfixturevalue("s3_endpoint")
        bucket: str = request.getfixturevalue("s3_bucket")  # also sets the AWS environment
        env.update(
            {
                k: os.environ[k]
                for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
            }
        )
        url = f"s3://{bucket}/scripts"
        env["SCRIPTCACHE_S3_ENDPOINT_URL"] = endpoint
        store = open_store(url, s3_endpoint_url=endpoint)
    else:
        url = f"file://{tmp_path / 'blobs'}"
        store = open_store(url)
    env["SCRIPTCACHE_STORE_URL"] = url
    work = tmp_path / "work"
    work.mkdir()
    return Cli(env, store, work)


def only(results: list[dict[str, Any]]) -> dict[str, Any]:
    assert len(results) == 1, results
    return results[0]


def outcome(result: dict[str, Any]) -> tuple[bool, int | None, list[str]]:
    return result["regenerated"], result["version"], result["labels"]


def history(cli: Cli, wpid: str, *args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(
        cli.run("script", "history", wpid, "--json", *args).stdout
    )
    return rows


def run_of(
    run_id: str,
    wpid: str,
    labels: list[str],
    executed: list[str],
    *,
    version: int = 1,
    **parameters: Any,
) -> list[dict[str, Any]]:
    defn = definition(
        [task_block(label) for label in labels],
        cache_key="{{ region }}" if "region" in parameters else "default",
    )
    builder = RunBuilder(run_id, wpid, defn, version=version, parameters=parameters)
    for label in executed:
        builder.block(label)
    return builder.finish()


# --- the four reference scenarios ------------------------------------------------------------


def test_the_same_blocks_twice_make_one_revision(cli: Cli) -> None:
    labels = ["sign_in", "search"]
    first = only(cli.ingest(run_of("wr_1", "wf", labels, labels)))
    second = only(cli.ingest(run_of("wr_2", "wf", labels, labels)))

    assert outcome(first) == (True, 1, sorted(labels))
    assert outcome(second) == (False, 1, [])
    assert second["script_id"] == first["script_id"]
    assert [(r["version"], r["live"], r["cached_blocks"]) for r in history(cli, "wf")] == [
        (1, True, 2)
    ]


def test_a_new_block_makes_a_second_revision_holding_both(cli: Cli) -> None:
    first = only(cli.ingest(run_of("wr_1", "wf", ["sign_in"], ["sign_in"])))
    second = only(
        cli.ingest(
            run_of("wr_2", "wf", ["sign_in", "export_csv"], ["sign_in", "export_csv"], version=2)
        )
    )

    assert outcome(first) == (True, 1, ["sign_in"])
    assert outcome(second) == (True, 2, ["export_csv"])
    assert [
        (r["version"], r["live"], r["cached_blocks"], r["workflow_version"])
        for r in history(cli, "wf")
    ] == [(1, False, 1, 1), (2, True, 2, 2)]
    for label in ("sign_in", "export_csv"):
        code = cli.run("script", "show", "wf", "--file", f"blocks/{label}.py").stdout
        assert f"async def {label}(" in code
    missing = cli.run(
        "script", "show", "wf", "--version", "1", "--file", "blocks/export_csv.py", ok=False
    )
    assert "version 1 has no" in missing.stderr and "'blocks/export_csv.py'" in missing.stderr
    plan = only(cli.json_lines("plan", "wf"))
    assert (plan["mode"], plan["blocks"], plan["version"]) == (
        "code",
        {"sign_in": "code", "export_csv": "code"},
        2,
    )


def test_branches_a_then_b_then_a_make_two_revisions_and_the_third_run_writes_nothing(
    cli: Cli,
) -> None:
    results = [
        only(cli.ingest(branching_run(f"wr_{i}", "wf", branch)))
        for i, branch in enumerate("ABA", start=1)
    ]

    assert [outcome(r) for r in results] == [
        (True, 1, ["branch_a", "sign_in"]),
        (True, 2, ["branch_b"]),
        (False, 2, []),
    ]
    assert [(r["version"], r["cached_blocks"]) for r in history(cli, "wf")] == [(1, 2), (2, 3)]
    main = cli.run("script", "show", "wf").stdout
    assert "async def branch_a(" in main and "async def branch_b(" in main
    for params, mode in (('{"go_a": true}', "code"), ('{"go_a": false}', "code")):
        plan = only(cli.json_lines("plan", "wf", "--params", params))
        assert (plan["mode"], plan["missing"], plan["blocks"]["route"]) == (mode, [], "agent")


def test_a_run_of_only_non_cacheable_blocks_makes_no_script(
    cli: Cli,
    pg_sessions: sessionmaker[Session],
) -> None:
    defn = definition(
        [
            {"label": "settle", "block_type": "wait", "seconds": 1},
            {"label": "summarise", "block_type": "text_prompt", "prompt": "Summarise the page"},
            {"label": "compute", "block_type": "code", "code": "result = 1"},
        ]
    )
    builder = RunBuilder("wr_1", "wf", defn)
    for label, block_type in (
        ("settle", "wait"),
        ("summarise", "text_prompt"),
        ("compute", "code"),
    ):
        builder.block(label, block_type)

    result = only(cli.ingest(builder.finish()))

    assert outcome(result) == (False, None, [])
    assert result["script_id"] is None
    with pg_sessions() as session:
        assert session.scalars(select(m.Script)).all() == []
        assert session.scalars(select(m.ScriptRevision)).all() == []
    assert "has no script yet" in cli.run("script", "history", "wf", ok=False).stderr
    plan = only(cli.json_lines("plan", "wf"))
    assert (plan["mode"], plan["script_id"]) == ("agent", None)
    assert set(plan["blocks"].values()) == {"agent"}


# --- the sample: plan, history, show, diff, export -------------------------------------------


def sample_runs() -> list[list[dict[str, Any]]]:
    runs: dict[str, list[dict[str, Any]]] = {}
    for line in SAMPLE.read_text(encoding="utf-8").split("\n"):
        if line.strip():
            event = json.loads(line)
            runs.setdefault(event["workflow_run_id"], []).append(event)
    return list(runs.values())


def test_the_plan_turns_to_code_once_both_branches_of_the_sample_are_cached(cli: Cli) -> None:
    params = '{"account_region": "eu"}'
    assert "has no recorded version" in cli.run("plan", PORTAL, ok=False).stderr
    refund, support = sample_runs()

    cli.ingest(refund)
    plan = only(cli.json_lines("plan", PORTAL, "--params", params))
    assert (plan["mode"], plan["missing"], plan["version"], plan["cache_key"]) == (
        "agent",
        ["contact_support"],
        1,
        "eu",
    )
    assert plan["blocks"] == {
        "sign_in": "code",
        "each_order": "code",
        "route": "agent",
        "request_refund": "code",
        "contact_support": "agent",
        "settle": "agent",
    }

    cli.ingest(support)
    plan = only(cli.json_lines("plan", PORTAL, "--params", params))
    assert (plan["mode"], plan["missing"], plan["version"]) == ("code", [], 2)
    other_key = only(cli.json_lines("plan", PORTAL, "--params", '{"account_region": "us"}'))
    assert (other_key["mode"], other_key["script_id"]) == ("agent", None)
    bad = cli.run("plan", PORTAL, "--params", "[1]", ok=False)
    assert "expected a JSON object" in bad.stderr


def test_history_show_diff_and_export_read_the_recorded_revisions(
    cli: Cli,
    pg_sessions: sessionmaker[Session],
) -> None:
    results = cli.ingest(*sample_runs())
    assert [outcome(r) for r in results] == [
        (True, 1, ["each_order", "request_refund", "sign_in"]),
        (True, 2, ["contact_support"]),
    ]

    rows = history(cli, PORTAL)
    assert [
        (r["version"], r["live"], r["cached_blocks"], r["source_workflow_run_id"]) for r in rows
    ] == [(1, False, 3, "wr_portal_1"), (2, True, 4, "wr_portal_2")]
    table = cli.run("script", "history", PORTAL).stdout
    assert "wr_portal_2" in table and rows[1]["content_sha256"][:12] in table

    recorded = recorded_files(pg_sessions, PORTAL)
    live_main = cli.run("script", "show", PORTAL).stdout
    assert live_main == cli.run("script", "show", PORTAL, "--version", "2").stdout
    assert sha(live_main) == recorded[2]["main.py"]
    old_main = cli.run("script", "show", PORTAL, "--version", "1").stdout
    assert sha(old_main) == recorded[1]["main.py"] and old_main != live_main
    block = cli.run("script", "show", PORTAL, "--file", "blocks/contact_support.py").stdout
    assert sha(block) == recorded[2]["blocks/contact_support.py"]
    assert "async def contact_support(" in block
    assert (
        "has no version 3" in cli.run("script", "show", PORTAL, "--version", "3", ok=False).stderr
    )

    diff = cli.run("script", "diff", PORTAL, "1", "2").stdout
    assert "+++ v2/blocks/contact_support.py" in diff
    assert "-        await ctx.run_agent('contact_support')" in diff
    assert "+        await contact_support(page, ctx)" in diff
    assert "blocks/sign_in.py" not in diff  # carried forward unchanged

    for version, directory in ((None, cli.tmp / "live"), (1, cli.tmp / "v1")):
        args = [] if version is None else ["--version", str(version)]
        done = cli.run("script", "export", PORTAL, str(directory), *args)
        expected = recorded[version or 2]
        assert f"wrote {len(expected)} files of version {version or 2}" in done.stdout
        written = {
            str(p.relative_to(directory)): sha(p.read_bytes())
            for p in directory.rglob("*")
            if p.is_file()
        }
        assert written == expected
        assert all(SECRET.encode() not in p.read_bytes() for p in directory.rglob("*.py"))
        assert all(cli.store.get(h) for h in expected.values())


def recorded_files(sessions: sessionmaker[Session], wpid: str) -> dict[int, dict[str, str]]:
    """script_files of every revision: version -> path -> sha256."""
    files: dict[int, dict[str, str]] = {}
    with sessions() as session:
        for version, path, digest in session.execute(
            select(m.ScriptRevision.version, m.ScriptFile.path, m.ScriptFile.sha256)
            .join(
                m.ScriptFile, m.ScriptFile.script_revision_id == m.ScriptRevision.script_revision_id
            )
            .join(m.Script, m.Script.script_id == m.ScriptRevision.script_id)
            .where(m.Script.workflow_permanent_id == wpid)
        ):
            files.setdefault(version, {})[path] = digest
    return files


def sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def test_a_workflow_with_several_scripts_needs_a_cache_key_and_the_error_lists_them(
    cli: Cli,
) -> None:
    labels = ["sign_in", "search"]
    results = cli.ingest(
        run_of("wr_eu", "wf", labels, labels, region="eu"),
        run_of("wr_us", "wf", labels, labels[:1], region="us"),
    )
    assert [(r["cache_key"], r["version"]) for r in results] == [("eu", 1), ("us", 1)]
    assert results[0]["script_id"] != results[1]["script_id"]

    for command in (
        ["history", "wf"],
        ["show", "wf"],
        ["diff", "wf", "1", "1"],
        ["export", "wf", str(cli.tmp / "out")],
    ):
        error = cli.run("script", *command, ok=False).stderr
        assert "several scripts; pass --cache-key, one of: 'eu', 'us'" in error, command
    assert not (cli.tmp / "out").exists()

    us = history(cli, "wf", "--cache-key", "us")
    assert [(r["version"], r["cached_blocks"]) for r in us] == [(1, 1)]
    assert "async def search(" in cli.run("script", "show", "wf", "--cache-key", "eu").stdout
    assert (
        "no script for cache key 'asia'"
        in cli.run("script", "show", "wf", "--cache-key", "asia", ok=False).stderr
    )


def test_the_history_table_prints_recorded_values_verbatim_not_as_markup(cli: Cli) -> None:
    labels = ["sign_in"]
    cli.ingest(run_of("wr_[/x]", "wf", labels, labels, region="[/eu]"))

    table = cli.run("script", "history", "wf").stdout

    assert "wf [[/eu]] script" in table and "wr_[/x]" in table
