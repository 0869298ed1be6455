"""`scriptcache script pin|unpin|promote|rollback|purge|audit` on the bundled sample (issue 15),
in-process (tests/support/cli.py; the purge prompt's test runs the process): JSON output, errors naming the choices, exit codes, the purge
prompt (declined, and with no transaction open while it waits).

Real PostgreSQL (a fresh migrated database per test) and a local blob store.
"""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests.keys import SEAL_KEY_TEXT
from tests.support.cli import Ran, run_cli
from tests.support.services import SAMPLES

SCRIPTCACHE = Path(sys.executable).with_name("scriptcache")
PORTAL = "wpid_order_portal"


@dataclass
class Cli:
    env: dict[str, str]
    tmp: Path
    blobs: Path

    def run(self, *args: str, ok: bool = True, stdin: str | None = None) -> Ran:
        done = run_cli(*args, env=self.env, stdin=stdin)
        assert (done.returncode == 0) == ok, (args, done.returncode, done.stdout, done.stderr)
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def error(self, *args: str) -> str:
        return self.run(*args, ok=False).stderr

    def ingest(self, run_number: int) -> dict[str, Any]:
        """`ingest --generate` of one of the sample's two runs."""
        lines = (SAMPLES / "order-portal.jsonl").read_text(encoding="utf-8").splitlines()
        mine = [line for line in lines if f'"wr_portal_{run_number}"' in line]
        source = self.tmp / f"run-{run_number}.jsonl"
        source.write_text("\n".join(mine) + "\n", encoding="utf-8")
        result: dict[str, Any] = json.loads(self.run("ingest", str(source), "--generate").stdout)
        return result

    def blob_count(self) -> int:
        folder = self.blobs / "blobs" / "sha256"
        return len([p for p in folder.glob("*") if not p.name.startswith(".")])


@pytest.fixture
def cli(pg_url: str, tmp_path: Path) -> Cli:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRIPTCACHE_")}
    env["SCRIPTCACHE_DATABASE_URL"] = pg_url
    env["SCRIPTCACHE_SEAL_KEY"] = SEAL_KEY_TEXT
    env["SCRIPTCACHE_STORE_URL"] = f"file://{tmp_path / 'blobs'}"
    env["COLUMNS"] = "250"
    return Cli(env, tmp_path, tmp_path / "blobs")


def test_pin_candidate_promote_rollback_and_the_audit_on_the_sample(cli: Cli) -> None:
    assert cli.ingest(1)["version"] == 1
    pinned = cli.json("script", "pin", PORTAL, "--by", "alice", "--why", "quarter-end freeze")
    assert (pinned["action"], pinned["to_version"], pinned["pinned"]) == ("pin", 1, True)

    second = cli.ingest(2)
    assert (second["regenerated"], second["version"], second["candidate"]) == (True, 1, 2)
    plan = json.loads(
        cli.run("plan", PORTAL, "--params", '{"account_region": "eu", "action": "support"}').stdout
    )
    assert (plan["version"], plan["pinned"], plan["candidates"]) == (1, True, [2])
    assert plan["blocks"]["contact_support"] == "agent"
    rows = cli.json("script", "history", PORTAL)
    assert [(r["version"], r["live"], r["candidate"]) for r in rows] == [
        (1, True, False),
        (2, False, True),
    ]
    table = cli.run("script", "history", PORTAL).stdout
    assert "(pinned)" in table and "candidate" in table
    shown = cli.run("script", "show", PORTAL, "--version", "2")
    assert "v2 is a candidate, not live" in shown.stderr
    assert "async def contact_support(" in shown.stdout
    assert "candidates: v2" in cli.run("script", "show", PORTAL).stderr

    promoted = cli.json("script", "promote", PORTAL, "2", "--why", "reviewed")
    assert (promoted["from_version"], promoted["to_version"]) == (1, 2)
    rolled = cli.json("script", "rollback", PORTAL, "1", "--by", "bob")
    assert (rolled["from_version"], rolled["to_version"], rolled["pinned"]) == (2, 1, True)
    unpinned = cli.run("script", "unpin", PORTAL).stdout
    assert unpinned.startswith("unpin: wpid_order_portal [eu]") and "not pinned" in unpinned

    audit = cli.json("script", "audit", PORTAL)
    me = getpass.getuser()
    assert [
        (a["action"], a["by"], a["why"], a["from_version"], a["to_version"]) for a in audit
    ] == [
        ("pin", "alice", "quarter-end freeze", 1, 1),
        ("promote", me, "reviewed", 1, 2),
        ("rollback", "bob", None, 2, 1),
        ("unpin", me, None, 1, 1),
    ]
    assert "quarter-end freeze" in cli.run("script", "audit", PORTAL).stdout


def test_refusals_exit_non_zero_and_name_the_choices(cli: Cli) -> None:
    cli.ingest(1)
    cli.run("script", "pin", PORTAL)

    assert "workflows with scripts: 'wpid_order_portal'" in cli.error(
        "script", "promote", "wpid_nope", "1"
    )
    assert "no script for cache key 'us'; cache keys: 'eu'" in cli.error(
        "script", "pin", PORTAL, "--cache-key", "us"
    )
    assert "has no version 5; versions: 1 (live)" in cli.error("script", "rollback", PORTAL, "5")
    assert "v1 is already live" in cli.error("script", "promote", PORTAL, "1")
    assert "older than the live one" in cli.error("script", "rollback", PORTAL, "1")
    assert "already pinned at v1" in cli.error("script", "pin", PORTAL)
    assert "workflows with scripts" in cli.error("script", "purge", "wpid_nope", "--yes")
    assert "workflows with scripts" in cli.error("script", "audit", "wpid_nope")
    assert [a["action"] for a in cli.json("script", "audit", PORTAL)] == ["pin"]


def test_a_declined_purge_removes_nothing_and_exits_non_zero(cli: Cli) -> None:
    cli.ingest(1)
    cli.ingest(2)
    blobs = cli.blob_count()

    declined = cli.run("script", "purge", PORTAL, "--runs", ok=False, stdin="n\n")

    assert "2 revisions (live v2)" in declined.stderr and "2 recorded runs" in declined.stderr
    assert "purge canceled: nothing was removed" in declined.stderr
    assert len(cli.json("script", "history", PORTAL)) == 2
    assert cli.blob_count() == blobs
    assert cli.json("script", "audit", PORTAL) == []


def test_the_purge_prompt_holds_no_transaction_and_yes_removes_scripts_runs_and_blobs(
    cli: Cli,
    pg_url: str,
) -> None:
    cli.ingest(1)
    cli.ingest(2)
    proc = subprocess.Popen(
        [str(SCRIPTCACHE), "script", "purge", PORTAL, "--runs", "--json", "--why", "PII"],
        env=cli.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None and proc.stdin is not None
        prompt = b""
        deadline = time.monotonic() + 60
        while b"purge these" not in prompt and time.monotonic() < deadline:
            prompt += os.read(proc.stderr.fileno(), 4096)
        assert b"purge these from 'wpid_order_portal'?" in prompt

        engine = create_engine(pg_url)
        with engine.connect() as conn:
            open_transactions = conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                )
            )
        engine.dispose()
        assert open_transactions == 0
        cli.run("script", "pin", PORTAL, "--why", "while the purge asks")  # no lock held

        out, err = proc.communicate(b"y\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    purged = json.loads(out)
    assert (purged["revisions"], purged["runs"], purged["blobs_kept"]) == (2, 2, 0)
    assert purged["blobs_deleted"] > 0 and cli.blob_count() == 0
    assert "has no script yet" in cli.error("script", "history", PORTAL)
    audit = cli.json("script", "audit", PORTAL)
    assert [(a["action"], a["why"]) for a in audit] == [
        ("pin", "while the purge asks"),
        ("purge", "PII"),
    ]
    assert audit[1]["details"] == {
        "revisions": 2,
        "files": purged["files"],
        "blobs": purged["blobs_deleted"],
        "runs": 2,
    }
