"""A credential canary goes through the whole pipeline and is found nowhere: not in a blob,
a row of any table, a worker or beat log line, or a dead-letter entry."""

from __future__ import annotations

from sqlalchemy import select

from tests.factory import RunBuilder, definition, task_block
from tests.support.stack import (
    Stack,
    all_logs,
    blobs_dir,
    dump_tables,
    live_files,
    live_labels,
    wait_until,
)
from worker.adapters.sql import models as m

CANARY = "CANARY-7f3a9c-s3cr3t-VALUE"
PARAMS = [
    {"key": "email", "parameter_type": "workflow"},
    {"key": "password", "parameter_type": "credential", "default": CANARY},
]


def login_run(run_id: str, wpid: str, *, cache_key: str = "default") -> RunBuilder:
    builder = RunBuilder(
        run_id,
        wpid,
        definition([task_block("sign_in", "login")], cache_key=cache_key, parameters=PARAMS),
        parameters={"email": "a@example.test", "password": CANARY},
    )
    builder.block(
        "sign_in",
        "login",
        actions=[
            {
                "action_type": "input_text",
                "xpath": "//input[@name='email']",
                "text": "a@example.test",
                "parameter_key": "email",
                "intention": "Type the email",
            },
            {
                "action_type": "input_text",
                "xpath": "//input[@name='password']",
                "text": CANARY,
                "parameter_key": "password",
                "intention": "Type the password",
            },
            {"action_type": "click", "xpath": "//button", "intention": "Sign in"},
        ],
    )
    return builder


def test_a_credential_canary_is_nowhere_after_the_pipeline(sec_stack: Stack) -> None:
    good = login_run("wr_secret", "wf_secret").finish()
    # Malformed events that carry the canary and are dead-lettered:
    bad_block = dict(good[1], event_id="evt_bad_block", status="exploded")
    bad_start = dict(
        good[0], event_id="evt_bad_start", workflow_run_id="wr_bad_start", workflow_version="one"
    )
    bad_definition = dict(
        good[0],
        event_id="evt_bad_def",
        workflow_run_id="wr_bad_def",
        definition={**good[0]["definition"], "blocks": [task_block("x"), task_block("x")]},
    )  # a duplicate label
    # A cache key that would render the credential: refused (the value is never recorded).
    keyed = login_run("wr_keyed", "wf_keyed", cache_key="{{ password }}").finish()
    sec_stack.start_beat()
    sec_stack.start_worker()
    sec_stack.publish([*good, bad_block, bad_start, bad_definition, *keyed])
    wait_until(
        lambda: live_labels(sec_stack, "wf_secret") == {"sign_in"},
        60,
        "the run with the credential to be generated",
        sec_stack,
    )
    wait_until(lambda: len(dead_letters(sec_stack)) == 4, 60, "four dead letters", sec_stack)

    main = live_files(sec_stack, "wf_secret")["main.py"].decode()
    assert "ctx.credential('password')" in main  # the script refers to it by key
    entries = dead_letters(sec_stack)
    assert {e.event_id for e in entries} == {"evt_bad_block", "evt_bad_start", "evt_bad_def", None}
    assert any(e.task_name == "scriptcache.generate" and "cache_key" in e.error for e in entries)
    assert all(CANARY not in str(e.payload) for e in entries)

    blobs = [p for p in blobs_dir(sec_stack).rglob("*") if p.is_file()]
    assert blobs, "no blob was written"
    for path in blobs:
        assert CANARY.encode() not in path.read_bytes(), f"the canary is in blob {path}"
    tables = dump_tables(sec_stack)
    assert "wr_secret" in tables and "evt_bad_block" in tables  # the dump covers them
    assert CANARY not in tables, [line for line in tables.splitlines() if CANARY in line][:3]
    logs = all_logs(sec_stack)
    assert "dead_lettered" in logs and "wr_secret" in logs
    assert CANARY not in logs, [line for line in logs.splitlines() if CANARY in line][:3]


def dead_letters(stack: Stack) -> list[m.DeadLetter]:
    with stack.sessions() as session:
        return list(session.scalars(select(m.DeadLetter)))
