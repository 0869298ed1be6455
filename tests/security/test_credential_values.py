"""A credential's value, typed by an agent without `parameter_key` or inside any other field,
never reaches a table, a blob or the dead-letter queue, whatever order the run's events
arrive in (ARCHITECTURE.md §9), on both PostgreSQL intake paths. The generated code refers to
it as `ctx.credential(key)`.

Intake and generation run in-process against real PostgreSQL, through the same functions the
Celery tasks call; tests/security/test_celery_surfaces.py drives a real worker, retries and
Flower.
"""

from __future__ import annotations

import copy
import json
import random
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from tests.factory import RunBuilder, definition, task_block
from tests.keys import SEAL_KEY
from worker.adapters.clock import utcnow
from worker.adapters.sql import models as m
from worker.adapters.store import open_store
from worker.app import deadletter
from worker.app.generation import generate_now as generate
from worker.app.intake import record_and_bump as take_in
from worker.domain.errors import PermanentError
from worker.domain.events import parse_event

CANARY = "CANARY-9d2e-s3cr3t-VALUE"
SETTINGS = Settings(quiet_s=1.0, max_wait_s=5.0, seal_keys=SEAL_KEY.keys)
PARAMS = [
    {"key": "email", "parameter_type": "workflow"},
    {"key": "note", "parameter_type": "workflow"},
    {"key": "password", "parameter_type": "credential", "default": CANARY, "hint": CANARY},
]


class Log:
    """Collects what record_failure logs, as structlog's capture would."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _line(self, event: str, **fields: Any) -> None:
        self.lines.append(json.dumps({"event": event, **fields}, default=str))

    warning = error = info = _line


def canary_run() -> list[dict[str, Any]]:
    """A run whose events carry the canary in every field a producer fills."""
    blocks = [
        task_block("sign_in", "login", navigation_goal=f"Sign in; never type {CANARY}"),
        {
            "label": "each_code",
            "block_type": "for_loop",
            "loop_over": "password",
            "loop_blocks": [task_block("use_code")],
        },
    ]
    builder = RunBuilder(
        "wr_canary",
        "wf_canary",
        definition(blocks, parameters=PARAMS),
        parameters={
            "email": "a@example.test",
            "password": CANARY,
            "note": f"the password is {CANARY}",
        },
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
                "intention": "Type the password",
                "reasoning": f"the password is {CANARY}",
            },
            {
                "action_type": "select_option",
                "xpath": f"//select[@data-x='{CANARY}']",
                "option": CANARY,
                "intention": f"Pick {CANARY}",
            },
            {"action_type": "click", "xpath": "//button", "intention": "Sign in"},
        ],
    )
    loop_id = f"wrb_wr_canary_{builder.n + 1:05d}"
    builder.block("each_code", "for_loop", actions=0)
    builder.block(
        "use_code",
        parent=loop_id,
        loop_index=0,
        loop_value=CANARY,
        actions=[
            {
                "action_type": "input_text",
                "xpath": "//input[@name='code']",
                "text": CANARY,
                "intention": "Type the code",
            }
        ],
    )
    events = builder.finish()
    sign_in, use_code = events[1], events[3]
    sign_in["task"].update(
        url=f"https://bank.test/login?pw={CANARY}",
        navigation_goal=f"Sign in with {CANARY}",
        data_extraction_goal=f"Find {CANARY}",
        extracted_information_schema={"secret": CANARY},
    )
    sign_in["output"] = {"token": f"Bearer {CANARY}"}  # an extra field, kept as recorded
    use_code["loop_value"] = CANARY
    return events


def bad_block(events: list[dict[str, Any]]) -> dict[str, Any]:
    """A block event intake refuses (dead-lettered) that carries the canary."""
    bad = copy.deepcopy(events[1])
    bad.update(event_id="evt_bad_canary", status="exploded")
    return bad


ORDERS = {
    "run_started first": lambda n: list(range(n)),
    "run_started last": lambda n: [*range(1, n), 0],
    "reversed": lambda n: list(reversed(range(n))),
    **{
        f"shuffled {seed}": (lambda n, seed=seed: random.Random(seed).sample(range(n), n))
        for seed in (1, 2, 3)
    },
}


def take_in_all(
    sessions: sessionmaker[Session], events: list[dict[str, Any]], one_statement: bool, log: Log
) -> None:
    for raw in events:
        try:
            event = parse_event(raw)
            with sessions.begin() as session:
                take_in(session, event, utcnow(), SETTINGS, one_statement=one_statement)
        except PermanentError as exc:  # what tasks/app.py's dead-letter hook then does
            failure = deadletter.Failure(
                f"scriptcache.{raw['type']}", "task-id", exc, raw, 1, f"Traceback: {exc}"
            )
            deadletter.record_failure(
                sessions, failure, utcnow(), log, lease_s=10, seal_key=SEAL_KEY
            )


def everything_stored(sessions: sessionmaker[Session], blobs: Path) -> str:
    with sessions() as session:
        tables = session.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        ).all()
        assert {t.name for t in m.Base.metadata.sorted_tables} <= set(tables)
        rows = [
            f"{t}: {r}"
            for t in tables
            for r in session.scalars(text(f'SELECT x::text FROM "{t}" x'))
        ]
    files = [p.read_bytes().decode("utf-8", "replace") for p in blobs.rglob("*") if p.is_file()]
    return "\n".join(rows + files)


@pytest.mark.parametrize("one_statement", [True, False], ids=["one statement", "generic"])
@pytest.mark.parametrize("order", list(ORDERS))
def test_a_credential_value_is_stored_nowhere_whatever_the_field_and_the_order(
    pg_sessions: sessionmaker[Session], tmp_path: Path, order: str, one_statement: bool
) -> None:
    events = canary_run()
    events.insert(2, bad_block(events))
    ordered = [events[i] for i in ORDERS[order](len(events))]
    log = Log()

    take_in_all(pg_sessions, ordered, one_statement, log)
    store = open_store(f"file://{tmp_path / 'blobs'}")
    result = generate(pg_sessions, store, "wr_canary")

    assert result.regenerated, result.reason
    stored = everything_stored(pg_sessions, tmp_path / "blobs")
    assert "evt_bad_canary" in stored and "wr_canary" in stored  # the dump covers them
    # The definition is kept as sent (ARCHITECTURE.md §9: identifiers, definitions included,
    # are never rewritten): the producer's own navigation goal holds the canary, and nothing
    # the run sent adds it there (its credential parameter's default is trimmed).
    definitions = [line for line in stored.splitlines() if line.startswith("workflows: ")]
    assert [line.count(CANARY) for line in definitions] == [1]
    leaks = [line for line in stored.splitlines() if CANARY in line and line not in definitions]
    assert leaks == [], leaks[:3]
    assert not any(CANARY in line for line in log.lines), log.lines
    main = "".join(
        p.read_text()
        for p in (tmp_path / "blobs").rglob("*")
        if p.is_file() and b"async def run_workflow" in p.read_bytes()
    )
    # The typed value became the credential's reference, in the block and in the loop.
    assert main.count("ctx.credential('password')") >= 1, main
    assert "ctx.loop('each_code', ctx.credential('password'))" in main, main


def test_a_dead_lettered_event_is_scrubbed_when_its_run_started_arrives_later(
    pg_sessions: sessionmaker[Session],
) -> None:
    events = canary_run()
    log = Log()
    take_in_all(pg_sessions, [bad_block(events)], True, log)
    with pg_sessions() as session:
        before = json.dumps(session.get(m.DeadLetter, 1).payload)  # type: ignore[union-attr]
    assert CANARY in before  # nothing could tell it was a secret yet

    take_in_all(pg_sessions, [events[0]], True, log)

    with pg_sessions() as session:
        entry = session.get(m.DeadLetter, 1)
        assert entry is not None
        after = json.dumps([entry.payload, entry.error, entry.traceback])
    assert CANARY not in after
    assert entry.payload["actions"][1]["parameter_key"] == "password"


def test_a_block_event_that_waits_for_a_concurrent_run_started_reads_its_seals(
    pg_sessions: sessionmaker[Session],
) -> None:
    """run_started holds its run's lock while it stores the seals; a block event of the same
    run taken in meanwhile waits for it and, once it commits, reads the seals it stored (the
    lock and the read are one round trip, in a function whose read takes a fresh snapshot:
    worker/secrets/credentials.py, migration 0009) and records the canary as the credential's key."""
    events = canary_run()
    sign_in = copy.deepcopy(events[1])
    blocked = threading.Event()
    errors: list[BaseException] = []

    def block_event() -> None:
        try:
            with pg_sessions.begin() as session:
                blocked.set()
                take_in(session, parse_event(sign_in), utcnow(), SETTINGS)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    with pg_sessions.begin() as session:
        take_in(session, parse_event(events[0]), utcnow(), SETTINGS)  # holds the lock
        thread = threading.Thread(target=block_event)
        thread.start()
        assert blocked.wait(10)
        thread.join(1.0)
        assert thread.is_alive(), "the block event did not wait for run_started's lock"
        with pg_sessions() as other:  # what the waiting block sees is in no table yet
            assert other.scalar(text("SELECT count(*) FROM actions")) == 0
    thread.join(30)
    assert not thread.is_alive() and errors == []
    with pg_sessions() as session:
        typed = session.scalars(
            text("SELECT parameter_key FROM actions WHERE xpath = '//input[@name=''password'']'")
        ).all()
        stored = json.dumps(
            [
                list(r)
                for r in session.execute(
                    text("SELECT text, intention, reasoning, option, xpath FROM actions")
                )
            ]
        )
    assert typed == ["password"]
    assert CANARY not in stored
