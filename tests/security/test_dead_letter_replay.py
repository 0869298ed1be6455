"""A dead-letter replay has the outcome the original delivery would have had: a `context`
parameter in the cache key survives the dead-letter queue (two tenants stay two scripts), and
a credential comes back sealed, never in plain, and is still referred to by key."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from sqlalchemy import select

from tests.factory import RunBuilder, definition, task_block
from tests.keys import SEAL_KEY
from tests.support.services import ROOT
from tests.support.stack import Stack, all_logs, dump_tables, wait_until
from worker.adapters.clock import utcnow
from worker.adapters.sql import models as m
from worker.app import deadletter

CLI = str(ROOT / ".venv" / "bin" / "scriptcache")
CANARY = "CANARY-dlq-93aa-s3cr3t"
PARAMS = [
    {"key": "tenant", "parameter_type": "context"},
    {"key": "password", "parameter_type": "credential"},
]


def tenant_run(tenant: str) -> list[dict[str, Any]]:
    run = RunBuilder(
        f"wr_{tenant}",
        "wf_tenants",
        definition(
            [task_block("sign_in", "login")], cache_key="tenant:{{ tenant }}", parameters=PARAMS
        ),
        parameters={"tenant": tenant, "password": CANARY},
    )
    run.block(
        "sign_in",
        "login",
        actions=[
            {
                "action_type": "input_text",
                "xpath": "//input[@name='password']",
                "text": CANARY,
                "intention": "Type the password",
            }
        ],
    )  # typed without its key
    return run.finish()


def test_a_replayed_run_started_keeps_its_tenant_and_seals_its_credential(sec_stack: Stack) -> None:
    acme, globex = tenant_run("acme"), tenant_run("globex")
    # Both run_started events failed for good once (as the hook writes them): dead letters.
    with sec_stack.sessions.begin() as session:
        for event in (acme[0], globex[0]):
            deadletter.add(
                session,
                seal_key=SEAL_KEY,
                task_name="scriptcache.run_started",
                payload=event,
                error="OperationalError: the database went away",
                traceback=None,
                attempts=9,
                now=utcnow(),
            )
    with sec_stack.sessions() as session:
        stored = [e.payload for e in session.scalars(select(m.DeadLetter))]
    assert [p["parameters"]["tenant"] for p in stored] == ["acme", "globex"]
    assert CANARY not in json.dumps(stored)
    sec_stack.start_worker()
    sec_stack.publish(acme[1:] + globex[1:])

    replay = subprocess.run(
        [CLI, "dlq", "replay", "--all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **sec_stack.env},
    )

    assert replay.returncode == 0, replay.stderr
    assert "replayed 2 of 2 entries" in replay.stdout
    wait_until(
        lambda: live_labels_by_key(sec_stack) == {"tenant:acme", "tenant:globex"},
        90,
        "one script per tenant",
        sec_stack,
    )
    tables = dump_tables(sec_stack)
    assert CANARY not in tables
    assert CANARY not in all_logs(sec_stack)
    with sec_stack.sessions() as session:
        typed = session.scalars(select(m.Action.parameter_key)).all()
    assert typed == ["password", "password"]  # the value typed without key, bound by its seal


def live_labels_by_key(stack: Stack) -> set[str]:
    with stack.sessions() as session:
        return set(
            session.scalars(
                select(m.Script.cache_key_value).where(
                    m.Script.workflow_permanent_id == "wf_tenants",
                    m.Script.current_revision_id.is_not(None),
                )
            )
        )
