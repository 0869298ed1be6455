"""PostgreSQL connections terminated (pg_terminate_backend) at random moments, mid-transaction,
during intake and generations. Only this test's own database is touched."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.faults.harness import (
    Tally,
    await_recovery,
    disjoint_workload,
    oracle,
    seeded,
    trial_count,
)
from tests.support.stack import Stack, local_store, wait_ready

TERMINATE = text(
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


def test_connections_terminated_mid_transaction_lose_and_duplicate_nothing(
    fault_stack: Stack, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = seeded("pg-terminate", capsys)
    stack, store = fault_stack, local_store(fault_stack)
    killer = create_engine(pg_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    tally = Tally("postgres connections terminated")
    stack.start_beat()
    worker = stack.start_worker()
    wait_ready(stack, worker)
    terminated = 0
    try:
        for trial in range(trial_count(2)):
            workload = disjoint_workload(f"p{trial}", rng, workflows=4, labels=3)
            expected = oracle(workload, tmp_path / f"oracle-{trial}")
            stack.publish(workload.interleaved())
            for _ in range(rng.randint(4, 10)):
                time.sleep(rng.uniform(0.02, 0.6))
                with killer.connect() as conn:
                    terminated += int(conn.execute(TERMINATE).scalar_one())
            tally.add(trial, await_recovery(stack, store, workload, expected))
            assert worker.poll() is None
    finally:
        killer.dispose()
    assert terminated > 0, "no backend was ever terminated: the fault was not injected"
    tally.report(capsys)
