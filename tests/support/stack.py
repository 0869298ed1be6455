"""The worker stack: real `celery worker` and `celery beat` processes against a private Redis, a
fresh PostgreSQL database and a blob directory, started by a test and stopped by process id
(tests/conftest.py has the `stack` fixtures), and what tests read of such a stack."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.keys import SEAL_KEY_TEXT
from tests.support.services import ROOT, stop
from worker.adapters.publisher import producer_app, publish_events
from worker.adapters.sql import models as m
from worker.adapters.store import BlobStore, open_store

# Short timings so a test sees debounce, leases and sweeps in seconds. The ladder holds:
# time limit 8 s < lease 10 s < visibility timeout 60 s.
TEST_ENV = {
    "SCRIPTCACHE_QUIET_S": "1",
    "SCRIPTCACHE_MAX_WAIT_S": "4",
    "SCRIPTCACHE_SWEEP_INTERVAL_S": "1",
    "SCRIPTCACHE_TASK_SOFT_TIME_LIMIT_S": "6",
    "SCRIPTCACHE_TASK_TIME_LIMIT_S": "8",
    "SCRIPTCACHE_LEASE_S": "10",
    "SCRIPTCACHE_VISIBILITY_TIMEOUT_S": "60",
    "SCRIPTCACHE_RUN_START_WAIT_S": "5",
    "SCRIPTCACHE_MAX_RETRIES": "3",
    "SCRIPTCACHE_RETRY_BACKOFF_MAX_S": "2",
    "SCRIPTCACHE_LOG_FORMAT": "json",
    "SCRIPTCACHE_SEAL_KEY": SEAL_KEY_TEXT,
}


# The fault campaign's timings, with the visibility timeout short enough that a killed worker's
# unacked messages come back within a trial. Ladder: time limit 6 s < lease 7 s < visibility 9 s.
FAULT_ENV = {
    **TEST_ENV,
    "SCRIPTCACHE_TASK_SOFT_TIME_LIMIT_S": "5",
    "SCRIPTCACHE_TASK_TIME_LIMIT_S": "6",
    "SCRIPTCACHE_LEASE_S": "7",
    "SCRIPTCACHE_VISIBILITY_TIMEOUT_S": "9",
    "SCRIPTCACHE_RUN_START_WAIT_S": "60",
    "SCRIPTCACHE_MAX_RETRIES": "8",
}

# What a worker log says when a pool process died.
WORKER_DEATH = re.compile(r"WorkerLostError|exited with 'signal|Process '.*' pid:\d+ exited")


@dataclass
class Stack:
    env: dict[str, str]
    sessions: sessionmaker[Session]
    logs: Path
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    files: list[Any] = field(default_factory=list)

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}-{len(self.procs)}.log").open("ab")
        self.files.append(log)
        proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks.app", *args],
            cwd=ROOT,
            env={**os.environ, **self.env, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def start_worker(
        self, concurrency: int = 2, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        n = len(self.procs)
        return self._spawn(
            "worker",
            [
                "worker",
                "-Q",
                "scriptcache.events,scriptcache.generate",
                "-c",
                str(concurrency),
                "-n",
                f"w{n}@%h",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],
            env,
        )

    def start_beat(self) -> subprocess.Popen[bytes]:
        return self._spawn(
            "beat", ["beat", "--loglevel", "INFO", "--schedule", str(self.logs / "beat-schedule")]
        )

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process and its children (the prefork pool)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self, *, graceful: bool = True) -> None:
        """Stop every process: a warm shutdown (SIGTERM, then SIGKILL after 15 s), or at once
        with `graceful=False`, as the fixtures do after a test (nothing is read after that:
        the database is dropped and Redis flushed before the next test)."""
        sig = signal.SIGTERM if graceful else signal.SIGKILL
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, sig)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for log in self.files:
            log.close()

    def publish(self, events: list[dict[str, Any]]) -> None:
        # Its producer connections are closed (pytest turns the ResourceWarning of an
        # unclosed socket into an error).
        app = producer_app(self.env["SCRIPTCACHE_BROKER_URL"])
        try:
            publish_events(app, events)
        finally:
            app.close()

    def scalar(self, stmt: Any) -> Any:
        with self.sessions() as session:
            return session.scalar(stmt)

    def revisions(self, wpid: str | None = None) -> int:
        stmt = select(func.count()).select_from(m.ScriptRevision)
        if wpid is not None:
            stmt = stmt.join(m.Script).where(m.Script.workflow_permanent_id == wpid)
        return int(self.scalar(stmt))

    def debounce(self, run_id: str) -> m.RunDebounce | None:
        with self.sessions() as session:
            return session.get(m.RunDebounce, run_id)

    def settled(self, run_id: str) -> bool:
        row = self.debounce(run_id)
        return row is not None and row.due_at is None and row.generations > 0

    def wait_ready(self, workers: int = 1) -> None:
        """Until `workers` worker processes have said they are ready: on a loaded machine
        starting one takes seconds, which timings measured from a publish must not count."""

        def ready() -> int:
            return sum(
                p.read_text(errors="replace").count(" ready.")
                for p in self.logs.glob("worker-*.log")
            )

        wait_until(lambda: ready() >= workers, 60, "the worker to be ready", self)

    def worker_log(self) -> str:
        return "\n".join(
            p.read_text(errors="replace")[-4000:] for p in sorted(self.logs.glob("*.log"))
        )


def wait_until(
    predicate: Callable[[], bool], timeout_s: float, what: str, stack: Stack | None = None
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    detail = f"\n--- logs ---\n{stack.worker_log()}" if stack is not None else ""
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}{detail}")


@contextlib.contextmanager
def running_stack(
    pg_url: str,
    sessions: sessionmaker[Session],
    redis_url: str,
    folder: Path,
    env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """A Stack on that database and a flushed Redis, its logs and blobs under `folder`; its
    processes are stopped on the way out. `env` adds to TEST_ENV."""
    flush(redis_url)
    logs = folder / "logs"
    logs.mkdir()
    s = Stack(
        env={
            **TEST_ENV,
            **(env or {}),
            "SCRIPTCACHE_DATABASE_URL": pg_url,
            "SCRIPTCACHE_BROKER_URL": redis_url,
            "SCRIPTCACHE_STORE_URL": f"file://{folder / 'blobs'}",
        },
        sessions=sessions,
        logs=logs,
    )
    try:
        yield s
    finally:
        s.stop_all(graceful=False)
        for proc in s.procs:
            stop(proc)


def flush(url: str) -> None:
    with redis.Redis.from_url(url) as client:
        client.flushall()


def log_of(stack: Stack, proc: subprocess.Popen[bytes]) -> Path:
    index = stack.procs.index(proc)
    return next(stack.logs.glob(f"*-{index}.log"))


def wait_ready(stack: Stack, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    """Until that worker says it is ready (connected to the broker, consuming)."""
    path = log_of(stack, proc)
    wait_until(
        lambda: " ready." in path.read_text(errors="replace"),
        timeout_s,
        "the worker to be ready",
        stack,
    )


def local_store(stack: Stack) -> BlobStore:
    return open_store(stack.env["SCRIPTCACHE_STORE_URL"])


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
    store = local_store(stack)
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
