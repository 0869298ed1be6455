"""Failures that retrying cannot fix are permanent, and a generation that used up its retries
is dead-lettered with the last real cause and that cause's traceback."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg.errors
import pytest
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from tests.factory import RunBuilder, definition, task_block
from tests.keys import SEAL_KEY
from worker.adapters.clock import utcnow
from worker.adapters.sql import models as m
from worker.adapters.store import MemoryStore
from worker.app import deadletter, retry
from worker.app.generation import generate_due
from worker.app.intake import take_in
from worker.domain.errors import GaveUp, PermanentError

SETTINGS = Settings(quiet_s=1.0, max_wait_s=5.0, max_retries=2, seal_keys=SEAL_KEY.keys)


def db_error(kind: type[Exception], orig: Exception) -> Exception:
    return kind("INSERT ...", {}, orig)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (db_error(DataError, psycopg.errors.StringDataRightTruncation("value too long")), False),
        (db_error(IntegrityError, psycopg.errors.UniqueViolation("duplicate key")), False),
        (db_error(IntegrityError, psycopg.errors.NotNullViolation("null value")), False),
        (
            db_error(OperationalError, psycopg.errors.ProgramLimitExceeded("index row too big")),
            False,
        ),
        (db_error(OperationalError, psycopg.errors.SerializationFailure("retry")), True),
        (db_error(OperationalError, psycopg.errors.DeadlockDetected("deadlock")), True),
        (db_error(OperationalError, psycopg.errors.AdminShutdown("terminating")), True),
        (db_error(OperationalError, psycopg.OperationalError("connection refused")), True),
    ],
    ids=lambda v: type(getattr(v, "orig", v)).__name__ if not isinstance(v, bool) else str(v),
)
def test_database_errors_that_fail_the_same_way_every_time_are_permanent(
    error: Exception, transient: bool
) -> None:
    assert retry.is_transient(error) is transient
    verdict = retry.after_failure(error, attempts=1, waited_s=0, settings=SETTINGS)
    assert isinstance(verdict, retry.Retry if transient else retry.GiveUp)


def test_an_event_the_database_refuses_is_permanent_not_retried(
    pg_sessions: sessionmaker[Session],
) -> None:
    """A CHECK the schema adds after the fact stands for any refusal by the database."""
    with pg_sessions.begin() as session:
        session.connection().exec_driver_sql(
            "ALTER TABLE workflow_runs ADD CONSTRAINT no_x CHECK (workflow_run_id <> 'wr_x')"
        )
    run = RunBuilder("wr_x", "wf_x", definition([task_block("a")]))
    with pytest.raises(
        PermanentError, match="the database refused it: CheckViolation: new row"
    ) as caught:
        take_in(pg_sessions, run.events[0], "run_started", SETTINGS, utcnow)
    assert "Failing row" not in str(caught.value)  # the DETAIL quotes the row's values


def test_a_give_up_keeps_the_last_real_cause_and_its_traceback(
    pg_sessions: sessionmaker[Session],
) -> None:
    run = RunBuilder("wr_gone", "wf_gone", definition([task_block("a")]))
    run.block("a")
    for event in run.finish():
        take_in(pg_sessions, event, event["type"], SETTINGS, utcnow)
    # Earlier attempts failed (the last one on a slow store), then died with their worker.
    try:
        raise TimeoutError("the blob store did not answer in 30 s")
    except TimeoutError as exc:
        with pg_sessions.begin() as session:
            deadletter.note_failure(session, "wr_gone", exc)
    with pg_sessions.begin() as session:
        row = session.get(m.RunDebounce, "wr_gone")
        assert row is not None
        row.attempts = SETTINGS.max_retries + 1
        row.due_at = utcnow() - timedelta(seconds=1)

    with pytest.raises(GaveUp) as caught:
        generate_due(pg_sessions, MemoryStore(), "wr_gone", SETTINGS, utcnow)

    failure = deadletter.Failure(
        "scriptcache.generate",
        "t",
        caught.value,
        {"workflow_run_id": "wr_gone"},
        1,
        "the give-up's own",
    )

    class Log:
        def warning(self, *_: Any, **__: Any) -> None: ...

        error = warning

    entry_id = deadletter.record_failure(
        pg_sessions, failure, utcnow(), Log(), lease_s=10, seal_key=SEAL_KEY
    )
    with pg_sessions() as session:
        entry = session.get(m.DeadLetter, entry_id)
        assert entry is not None
        assert "gave up after 3 attempts" in entry.error
        assert "last error: TimeoutError: the blob store did not answer in 30 s" in entry.error
        assert entry.traceback is not None and "raise TimeoutError" in entry.traceback
        assert "the give-up's own" not in entry.traceback
    with pg_sessions() as session:
        cleared = session.get(m.RunDebounce, "wr_gone")
        assert cleared is not None and cleared.due_at is None
