"""tasks/app.py's dead-letter hook, called in a fresh process (the real module, its own
settings from the environment) against real PostgreSQL.

A generation killed by the hard time limit is not dead-lettered: the run's claim stays in
run_debounce, the sweeper retries it after the lease, and the generate task dead-letters it
itself once SCRIPTCACHE_MAX_RETRIES attempts have failed. A permanent failure is
dead-lettered at once (the same call, so the harness can tell the two apart).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.support.stack import TEST_ENV
from worker.adapters.sql import models as m

ROOT = Path(__file__).resolve().parents[2]
HOOK = """
import sys
from celery.exceptions import TimeLimitExceeded
import tasks.generate  # registers the task
from tasks.app import _dead_letter, app
from worker.domain.errors import PermanentError

failure = {"time limit": TimeLimitExceeded(8.0),
           "permanent": PermanentError("run wr_hook: gave up after 4 attempts")}[sys.argv[1]]
_dead_letter(sender=app.tasks["scriptcache.generate"], task_id="task-1", exception=failure,
             args=[{"workflow_run_id": "wr_hook"}], einfo=None)
"""


def call_hook(pg_url: str, failure: str) -> str:
    env = {**os.environ, **TEST_ENV, "SCRIPTCACHE_DATABASE_URL": pg_url}
    done = subprocess.run(
        [sys.executable, "-c", HOOK, failure],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout + done.stderr


@pytest.mark.parametrize(
    ("failure", "entries", "logged"),
    [
        ("time limit", [], "generation_interrupted"),
        ("permanent", ["wr_hook"], "dead_lettered"),
    ],
)
def test_a_generation_killed_by_the_time_limit_is_left_to_the_sweeper(
    pg_url: str, pg_sessions: sessionmaker[Session], failure: str, entries: list[str], logged: str
) -> None:
    output = call_hook(pg_url, failure)

    with pg_sessions() as session:
        rows = session.scalars(select(m.DeadLetter.workflow_run_id)).all()
    assert list(rows) == entries
    assert logged in output
