"""The engine's pool against real PostgreSQL: a connection that sat idle is pinged and
replaced when dead (a restarted or terminated backend costs no failed task); a connection in
steady use is not pinged (intake pays no round trip for it), and one that dies while in use
fails with an error worker/app/retry.py treats as transient."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from worker.adapters.sql.engine import make_engine
from worker.app.retry import is_transient


def backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(text("SELECT pg_backend_pid()")))


def terminate(admin: Engine, pid: int) -> None:
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    time.sleep(0.2)  # the backend is gone once the signal is handled


@pytest.fixture
def admin(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url, pool_size=1)
    yield engine
    engine.dispose()


def test_an_idle_connection_that_died_is_replaced_before_use(pg_url: str, admin: Engine) -> None:
    engine = make_engine(pg_url, pool_size=1, max_overflow=0, ping_after_idle_s=0.1)
    try:
        first = backend_pid(engine)
        terminate(admin, first)  # idle in the pool for longer than 0.1 s
        second = backend_pid(engine)  # no error: the ping found it dead
        assert second != first
    finally:
        engine.dispose()


def test_a_connection_in_steady_use_is_not_pinged(pg_url: str, admin: Engine) -> None:
    engine = make_engine(pg_url, pool_size=1, max_overflow=0, ping_after_idle_s=60)
    try:
        first = backend_pid(engine)
        terminate(admin, first)
        with pytest.raises(DBAPIError) as failure:
            backend_pid(engine)  # no ping: the statement meets the dead connection
        assert is_transient(failure.value)
        assert backend_pid(engine) != first  # the pool replaced it
    finally:
        engine.dispose()
