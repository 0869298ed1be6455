"""Shared by the bad-input and security tests: a real worker stack, and its traces."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.e2e.conftest import TEST_ENV, Stack
from tests.faults.conftest import ClosingStack, flush
from worker.adapters.sql import models as m
from worker.adapters.store import open_store

WORKER_DEATH = re.compile(r"WorkerLostError|exited with 'signal|Process '.*' pid:\d+ exited")


@pytest.fixture
def sec_stack(
    pg_url: str, pg_sessions: sessionmaker[Session], redis_server: str, tmp_path: Path
) -> Iterator[Stack]:
    """A Stack (tests/e2e/conftest.py) on a fresh database and the local blob store; tests
    adjust `stack.env` before starting processes."""
    flush(redis_server)
    logs = tmp_path / "logs"
    logs.mkdir()
    env = {
        **TEST_ENV,
        "SCRIPTCACHE_DATABASE_URL": pg_url,
        "SCRIPTCACHE_BROKER_URL": redis_server,
        "SCRIPTCACHE_STORE_URL": f"file://{tmp_path / 'blobs'}",
    }
    stack = ClosingStack(env=env, sessions=pg_sessions, logs=logs)
    yield stack
    stack.stop_all()


def blobs_dir(stack: Stack) -> Path:
    return Path(stack.env["SCRIPTCACHE_STORE_URL"].removeprefix("file://"))


def all_logs(stack: Stack) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(stack.logs.glob("*.log")))


def dump_tables(stack: Stack) -> str:
    """Every row of every table of the database, as text."""
    out = []
    with stack.sessions() as session:
        tables = session.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
        ).all()
        assert {t.name for t in m.Base.metadata.sorted_tables} <= set(tables)
        for table in tables:
            rows = session.scalars(text(f'SELECT t::text FROM "{table}" t')).all()
            out += [f"{table}: {row}" for row in rows]
    return "\n".join(out)


def live_files(stack: Stack, wpid: str) -> dict[str, bytes]:
    """The files of a workflow's live revision, read back from the blob store by hash."""
    store = open_store(stack.env["SCRIPTCACHE_STORE_URL"])
    with stack.sessions() as session:
        script = session.scalars(
            select(m.Script).where(m.Script.workflow_permanent_id == wpid)
        ).one()
        rows = session.scalars(
            select(m.ScriptFile).where(
                m.ScriptFile.script_revision_id == script.current_revision_id
            )
        ).all()
    return {r.path: store.get(r.sha256) for r in rows}


def live_labels(stack: Stack, wpid: str) -> set[str]:
    with stack.sessions() as session:
        script = session.scalars(
            select(m.Script).where(m.Script.workflow_permanent_id == wpid)
        ).one_or_none()
        if script is None or script.current_revision_id is None:
            return set()
        return set(
            session.scalars(
                select(m.ScriptBlock.label).where(
                    m.ScriptBlock.script_revision_id == script.current_revision_id,
                    m.ScriptBlock.run_signature.is_not(None),
                )
            )
        )
