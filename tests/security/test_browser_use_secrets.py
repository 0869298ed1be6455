"""A browser-use history's secrets never reach what scriptcache writes: `scriptcache import
browser-use --sensitive-data FILE` on a history the real Agent wrote, into which the password
was leaked everywhere a careless run could put it (typed in clear by the model, in its memory
and goal, in an extraction's result, in a url, in an element's attributes, in the final
answer), then `ingest --generate` and `script show`: no event, output line, table row, blob or
script holds it, and the script types the credential by its key."""

from __future__ import annotations

import copy
import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.support.cli import run_cli
from tests.support.services import ROOT

CANARY = "CANARY-bu-7f3e-s3cr3t"
HISTORY = ROOT / "tests" / "browser_use" / "histories" / "portal.json"
PARAMS = {"username": "alice@shop.test", "order_number": "A-1002", "reason": "Arrived damaged"}


def leaky_history() -> dict[str, Any]:
    history: dict[str, Any] = copy.deepcopy(json.loads(HISTORY.read_text(encoding="utf-8")))
    steps = history["history"]
    sign_in = steps[2]
    sign_in["model_output"]["action"][1]["input"]["text"] = CANARY  # typed in clear
    sign_in["model_output"]["memory"] = f"The password is {CANARY}"
    sign_in["model_output"]["next_goal"] = f"Type {CANARY} and sign in"
    sign_in["state"]["interacted_element"][1]["attributes"]["title"] = f"was {CANARY}"
    steps[4]["result"][0]["extracted_content"] = f'<result>{{"note": "{CANARY}"}}</result>'
    steps[5]["state"]["url"] += f"?token={CANARY}"
    steps[-1]["model_output"]["action"][0]["done"]["text"] = f"Done with {CANARY}"
    steps[-1]["result"][0]["extracted_content"] = f"Done with {CANARY}"
    return history


def stored(database: Path, blobs: Path) -> str:
    with sqlite3.connect(database) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = [f"{t}: {row}" for t in tables for row in db.execute(f'SELECT * FROM "{t}"')]
    files = [p.read_bytes().decode("utf-8", "replace") for p in blobs.rglob("*") if p.is_file()]
    return "\n".join(rows + files)


def test_no_secret_of_a_browser_use_history_is_written_anywhere(tmp_path: Path) -> None:
    history = tmp_path / "history.json"
    history.write_text(json.dumps(leaky_history()), encoding="utf-8")
    secrets = tmp_path / "sensitive.json"
    secrets.write_text(json.dumps({"portal_password": CANARY}), encoding="utf-8")
    events = tmp_path / "events.jsonl"
    env = {
        "SCRIPTCACHE_DATABASE_URL": f"sqlite:///{tmp_path / 'sc.db'}",
        "SCRIPTCACHE_STORE_URL": f"file://{tmp_path / 'blobs'}",
    }
    ran = [
        run_cli(
            "import", "browser-use", str(history), "--workflow-id", "wpid_bu_secret",
            "--params", json.dumps(PARAMS), "--sensitive-data", str(secrets),
            "--emit", str(events), env=env,
        ),
        run_cli("migrate", env=env),
        run_cli("ingest", "--generate", str(events), env=env),
        run_cli("script", "show", "wpid_bu_secret", env=env),
    ]  # fmt: skip
    for done in ran:
        assert done.returncode == 0, done
        assert CANARY not in done.stdout + done.stderr
    written = events.read_text(encoding="utf-8")
    assert "<redacted>" in written and CANARY not in written  # it was there to scrub
    assert CANARY not in stored(tmp_path / "sc.db", tmp_path / "blobs")
    script = ran[-1].stdout
    assert "ctx.credential('portal_password')" in script.replace('"', "'")
    assert "<redacted>" not in script


def test_an_unreadable_sensitive_data_file_is_named_never_quoted(tmp_path: Path) -> None:
    secrets = tmp_path / "sensitive.json"
    secrets.write_text(f"{{'portal_password': '{CANARY}'", encoding="utf-8")  # not JSON
    done = run_cli(
        "import", "browser-use", str(HISTORY), "--workflow-id", "w",
        "--sensitive-data", str(secrets), env={},
    )  # fmt: skip
    assert done.returncode == 1 and "--sensitive-data" in done.stderr
    assert CANARY not in done.stdout + done.stderr
