"""Browser tests (Portal and Cache: tests/support/portal.py): real Debian Chromium under Playwright, the test portal on loopback.

A missing Chromium or Playwright fails these tests; it never skips them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tests.support.portal import Cache, Portal
from worker.adapters.sql.engine import make_sessionmaker
from worker.adapters.store import MemoryStore
from worker.demo.portal.site import Site, serve


@pytest.fixture
def portal() -> Iterator[Portal]:
    site = Site()
    with serve(site) as base_url:
        yield Portal(site, base_url)


@pytest.fixture
def cache(sqlite_engine: Engine) -> Cache:
    return Cache(make_sessionmaker(sqlite_engine), MemoryStore())
