"""`scriptcache script show --inputs [--json]`: what each cached block enters, bound to the
run or typed as recorded. The command runs in-process (tests/support/cli.py) on a fresh PostgreSQL database."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.keys import SEAL_KEY_TEXT
from tests.support.cli import run_cli
from tests.support.services import SAMPLES

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def run(env: dict[str, str], *args: str) -> str:
    done = run_cli(*args, env=env)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def environment(pg_url: str, tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRIPTCACHE_")}
    env.update(
        SCRIPTCACHE_DATABASE_URL=pg_url,
        SCRIPTCACHE_STORE_URL=f"file://{tmp_path}/b",
        SCRIPTCACHE_SEAL_KEY=SEAL_KEY_TEXT,
        COLUMNS="250",
    )
    return env


def test_inputs_lists_bindings_and_the_literals_a_replay_types_as_recorded(
    pg_url: str, tmp_path: Path
) -> None:
    env = environment(pg_url, tmp_path)
    run(env, "ingest", str(GOLDEN / "bind_parameters.jsonl"), "--generate")

    report = json.loads(run(env, "script", "show", "wpid_bind_params", "--inputs", "--json"))

    [block] = report["blocks"]
    assert (report["version"], block["label"]) == (1, "order_form")
    assert block["keys"] == [
        "address",
        "customer",
        "gift",
        "invoice",
        "key",
        "order_ref",
        "quantity",
        "tags",
    ]
    assert [(i["action"], i["expression"]) for i in block["literals"]] == [
        ("select_option", "'US'"),
        ("fill", "'no'"),
    ]
    bound = {i["selector"]: (i["expression"], i["sources"]) for i in block["bindings"]}
    assert bound["//input[@name='tag']"] == ("ctx.param('tags')[1]", ["ctx.param('tags')"])
    assert bound["//input[@name='reference']"][1] == [
        "ctx.param('order_ref')",
        "ctx.param('customer')",
    ]
    assert len(block["bindings"]) == 10

    text = run(env, "script", "show", "wpid_bind_params", "--inputs")
    assert "10 bound, 2 literal" in text
    assert "LITERAL" in text and "ctx.param('address')['city']" in text


def test_the_sample_lists_its_literal_inputs(pg_url: str, tmp_path: Path) -> None:
    env = environment(pg_url, tmp_path)
    run(env, "ingest", str(SAMPLES / "order-portal.jsonl"), "--generate")

    report = json.loads(run(env, "script", "show", "wpid_order_portal", "--inputs", "--json"))

    literals = [
        (b["label"], i["action"], i["expression"]) for b in report["blocks"] for i in b["literals"]
    ]
    assert literals == [
        ("contact_support", "fill", "'My order arrived late.'"),
        ("each_order", "press", "'Enter'"),
        ("request_refund", "select_option", "'damaged'"),
    ]
