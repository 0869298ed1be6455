"""Shared fixtures: real services started or provisioned per test session.

A test that needs PostgreSQL, Redis or an S3 endpoint fails (never skips) when the service
cannot be reached: CI must not pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from tests.support import browser as session_browser
from tests.support.cli import DemoRun, run_cli
from tests.support.services import (
    PG_ADMIN_URL,
    admin_engine,
    db_url,
    free_port,
    fresh_database,
    stop,
    wait_for_port,
)
from tests.support.stack import FAULT_ENV, Stack, running_stack
from worker.adapters.sql.engine import make_engine, make_sessionmaker
from worker.adapters.sql.migrate import upgrade
from worker.browser.chromium import ChromiumMissing, check_chromium, chromium_path

# --- Markers: what a test needs, from its directory and fixtures ------------------------------

_BROWSER = {"chromium", "demo_local"}
_WORKER = {"stack", "fault_stack", "sec_stack"}
_SERVICES = {"pg_url", "pg_template", "redis_server", "s3_endpoint"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`browser`, `worker` and `services` marks, so that `make test-fast` (-m "not browser and
    not worker and not services and not slow") can leave out what starts processes; and
    `property` on every Hypothesis test, which `make test-campaigns` runs again at the full
    example counts (tests/support/examples.py)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        parts = Path(str(item.path)).parts
        if fixtures & _BROWSER or "browser" in parts or "realapp" in parts:
            item.add_marker(pytest.mark.browser)
        if fixtures & _WORKER or "faults" in parts or "e2e" in parts:
            item.add_marker(pytest.mark.worker)
        if fixtures & (_SERVICES | _WORKER):
            item.add_marker(pytest.mark.services)
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            item.add_marker(pytest.mark.property)


# --- PostgreSQL: a template database migrated once, a fresh copy per test -------------------


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"sc_tmpl_{uuid.uuid4().hex[:10]}"
    admin = admin_engine()
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - the service is missing
        pytest.fail(f"PostgreSQL is required at {PG_ADMIN_URL}: {exc}")
    engine = make_engine(db_url(name))
    upgrade(engine)
    engine.dispose()
    yield name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for one test."""
    with fresh_database(pg_template) as url:
        yield url


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_sessions(pg_engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(pg_engine)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'scriptcache.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


# --- Redis: a private server per test session ------------------------------------------------


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is required on PATH for these tests")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    yield f"redis://127.0.0.1:{port}/0"
    stop(proc)


# --- S3: moto's standalone server over HTTP --------------------------------------------------


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout_s=30)
    except RuntimeError:
        stop(proc)
        pytest.fail("moto's S3 server did not start (pip install 'moto[server]')")
    yield f"http://127.0.0.1:{port}"
    stop(proc)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


# --- The worker stack: real celery worker / beat processes (tests/support/stack.py) ----------


@pytest.fixture
def stack(
    pg_url: str, pg_sessions: sessionmaker[Session], redis_server: str, tmp_path: Path
) -> Iterator[Stack]:
    """A stack with the short test timings (TEST_ENV); tests start the processes they need."""
    with running_stack(pg_url, pg_sessions, redis_server, tmp_path) as s:
        yield s


@pytest.fixture
def fault_stack(
    pg_url: str, pg_sessions: sessionmaker[Session], redis_server: str, tmp_path: Path
) -> Iterator[Stack]:
    """A stack with the fault campaign's timings (FAULT_ENV)."""
    with running_stack(pg_url, pg_sessions, redis_server, tmp_path, FAULT_ENV) as s:
        yield s


@pytest.fixture
def sec_stack(stack: Stack) -> Stack:
    """The security suite's name for the same stack; its tests adjust `stack.env` before
    starting processes."""
    return stack


# --- Chromium: Debian's, under Playwright ------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> Iterator[str]:
    """The Chromium executable the browser and real-app tests replay in; a missing one fails
    them, it never skips them."""
    path = chromium_path(os.environ)
    try:
        check_chromium(path)
    except ChromiumMissing as exc:
        pytest.fail(f"browser tests need Chromium: {exc}")
    yield path
    session_browser.close()  # the one Chromium run_async started, if a test used it


# --- `scriptcache demo --local`, run once per session as a user runs it ------------------------


@pytest.fixture(scope="session")
def demo_local(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> DemoRun:
    """`scriptcache migrate` and `scriptcache demo --local` as processes on the embedded
    defaults, with Chromium: the closed loop on the portal. Its output is checked by the demo
    test and by the README's documented output; tests that use it share an xdist group, so
    that it runs once."""
    folder = tmp_path_factory.mktemp("demo")
    env = {
        "SCRIPTCACHE_DATABASE_URL": f"sqlite:///{folder}/demo.db",
        "SCRIPTCACHE_STORE_URL": f"file://{folder}/blobs",
        "SCRIPTCACHE_LOG_LEVEL": "ERROR",
        "SCRIPTCACHE_CHROMIUM_PATH": chromium,
    }
    for args in (["migrate"], ["demo", "--local"]):
        done = run_cli(*args, env=env, process=True, timeout_s=300)
        assert done.returncode == 0, done.stdout + done.stderr
    return DemoRun(folder, done.stdout)
