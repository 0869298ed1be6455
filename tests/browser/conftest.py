"""Browser tests: real Debian Chromium under Playwright, the test portal on loopback.

A missing Chromium or Playwright fails these tests; it never skips them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.keys import SEAL_KEY
from worker.adapters.sql import scripts as read
from worker.adapters.sql.engine import make_sessionmaker
from worker.adapters.store import MemoryStore
from worker.app.generation import GenerateResult, generate_now
from worker.app.intake import record_only
from worker.browser.chromium import ChromiumMissing, check_chromium, chromium_path
from worker.demo.portal.site import Site, serve
from worker.domain.definition import Definition
from worker.domain.events import parse_event


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path(os.environ)
    try:
        check_chromium(path)
    except ChromiumMissing as exc:
        pytest.fail(f"browser tests need Chromium: {exc}")
    return path


@dataclass
class Portal:
    site: Site
    base_url: str


@pytest.fixture
def portal() -> Iterator[Portal]:
    site = Site()
    with serve(site) as base_url:
        yield Portal(site, base_url)


@dataclass
class Cache:
    """A scriptcache on a temporary SQLite database and an in-memory blob store."""

    sessions: sessionmaker[Session]
    store: MemoryStore

    def record(self, events: Sequence[dict[str, Any]]) -> list[GenerateResult]:
        runs = record_only(self.sessions, [parse_event(e) for e in events], SEAL_KEY)
        return [generate_now(self.sessions, self.store, run_id) for run_id in runs]

    def live(self, wpid: str) -> tuple[dict[str, bytes], Definition]:
        """The live revision's files and the workflow definition it was generated for."""
        with self.sessions() as session:
            script = read.resolve_script(session, wpid, None)
            revision = read.select_revision(session, script, None)
            _, definition = read.workflow_definition(session, wpid, None)
        return read.read_files(self.store, revision), definition


@pytest.fixture
def cache(sqlite_engine: Engine) -> Cache:
    return Cache(make_sessionmaker(sqlite_engine), MemoryStore())
