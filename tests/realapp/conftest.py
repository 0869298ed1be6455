"""Real-app tests: Django's admin on loopback, driven by real Debian Chromium under Playwright.

The help desk's database is migrated and seeded once per test session; each test gets its
own copy and its own `runserver` process. A missing Django, Playwright or Chromium fails
these tests; it never skips them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from tests.realapp.app import DeskApp, Users, seeded_database
from tests.realapp.fidelity import Cache
from worker.adapters.sql.engine import make_sessionmaker
from worker.adapters.store import MemoryStore


@pytest.fixture(scope="session")
def desk_seed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Users]:
    try:
        import django  # noqa: F401
    except ImportError as exc:  # pragma: no cover - the test extra is not installed
        pytest.fail(f"real-app tests need Django (pip install -e '.[test]'): {exc}")
    return seeded_database(tmp_path_factory.mktemp("desk-seed"))


@pytest.fixture
def desk(desk_seed: tuple[Path, Users], tmp_path: Path) -> Iterator[DeskApp]:
    seeded, users = desk_seed
    with DeskApp.start(seeded, users, tmp_path) as app:
        yield app


@pytest.fixture
def cache(sqlite_engine: Engine) -> Cache:
    return Cache(make_sessionmaker(sqlite_engine), MemoryStore())
