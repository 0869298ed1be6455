"""A slow, unreliable network to Redis and to PostgreSQL: the worker and beat reach both
through tests/faults/proxy.py, which delays every chunk and resets connections at random
moments.

Every connection is reset, the Redis pub/sub (remote control) ones included: a reset
pub/sub connection used to freeze the worker (config/redis_transport.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.faults.harness import (
    Tally,
    await_recovery,
    disjoint_workload,
    oracle,
    seeded,
    trial_count,
)
from tests.faults.proxy import Proxy
from tests.support.stack import Stack, local_store, wait_ready


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)
    netloc = (host[0] + "@" if len(host) == 2 else "") + f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


@pytest.mark.parametrize("target", ["redis", "postgres"])
def test_latency_and_connection_resets_lose_and_duplicate_nothing(
    target: str, fault_stack: Stack, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = seeded(f"slow-{target}", capsys)
    stack, store = fault_stack, local_store(fault_stack)
    variable = {"redis": "SCRIPTCACHE_BROKER_URL", "postgres": "SCRIPTCACHE_DATABASE_URL"}[target]
    real = urlsplit(stack.env[variable])
    assert real.port is not None
    tally = Tally(f"slow network to {target}")
    with Proxy(real.port, latency_s=(0.002, 0.02), seed=rng.randrange(2**32)) as proxy:
        stack.env[variable] = through(stack.env[variable], proxy.port)
        stack.start_beat()
        worker = stack.start_worker()
        wait_ready(stack, worker)
        for trial in range(trial_count(1)):
            workload = disjoint_workload(f"n{target[0]}{trial}", rng, workflows=3, labels=3)
            expected = oracle(workload, tmp_path / f"oracle-{trial}")
            stack.publish(workload.interleaved())
            for _ in range(rng.randint(2, 4)):
                time.sleep(rng.uniform(0.1, 1.5))
                proxy.reset_all()
            tally.add(trial, await_recovery(stack, store, workload, expected))
            assert worker.poll() is None
        assert proxy.connections > 0 and proxy.resets > 0, "no traffic or no reset: no fault"
    tally.report(capsys)
