"""The loopback order portal as the browser tests serve it, and a scriptcache on SQLite and an
in-memory blob store to record its runs in (the fixtures `portal` and `cache`:
tests/browser/conftest.py; the convergence benchmark uses Cache too)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from tests.keys import SEAL_KEY
from worker.adapters.sql import scripts as read
from worker.adapters.store import MemoryStore
from worker.app.generation import GenerateResult, generate_now
from worker.app.intake import record_only
from worker.demo.portal.site import Site
from worker.domain.definition import Definition
from worker.domain.events import parse_event


@dataclass
class Portal:
    site: Site
    base_url: str


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
