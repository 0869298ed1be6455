"""The S3 endpoint down for longer than the retry budget: generations are dead-lettered; once
it is back (moto keeps objects in memory: the bucket is recreated), `scriptcache dlq replay
--all` generates them all.

The outage starts before the trial's events are published: moto loses its objects when it
stops, so a revision stored before the outage would not read back afterwards for a reason
that has nothing to do with scriptcache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from sqlalchemy import select

from tests.faults.harness import (
    Tally,
    Workload,
    await_recovery,
    disjoint_workload,
    oracle,
    seeded,
    trial_count,
)
from tests.support.services import ROOT, free_port, stop, wait_for_port
from tests.support.stack import Stack, wait_ready, wait_until
from worker.adapters.sql import models as m
from worker.adapters.store import open_store

BUCKET = "scriptcache-faults"
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


class MotoServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, timeout_s=60)
        client = boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
        ).client("s3", endpoint_url=self.url)
        try:
            client.create_bucket(Bucket=BUCKET)  # in-memory: recreated on every start
        finally:
            client.close()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def moto() -> Iterator[MotoServer]:
    server = MotoServer()
    server.start()
    yield server
    if server.proc is not None:
        stop(server.proc)


def dead_lettered_runs(stack: Stack) -> set[str]:
    with stack.sessions() as session:
        return set(
            session.scalars(
                select(m.DeadLetter.workflow_run_id).where(
                    m.DeadLetter.task_name == "scriptcache.generate"
                )
            )
        )


def test_s3_down_past_the_retry_budget_dead_letters_then_replay_generates(
    fault_stack: Stack,
    moto: MotoServer,
    aws_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    rng = seeded("s3-outage", capsys)
    stack = fault_stack
    stack.env.update(
        AWS,
        SCRIPTCACHE_STORE_URL=f"s3://{BUCKET}/p",
        SCRIPTCACHE_S3_ENDPOINT_URL=moto.url,
        SCRIPTCACHE_MAX_RETRIES="2",
        SCRIPTCACHE_RETRY_BACKOFF_MAX_S="1",
    )
    store = open_store(f"s3://{BUCKET}/p", s3_endpoint_url=moto.url)
    tally = Tally("s3 down past the retry budget")
    stack.start_beat()
    wait_ready(stack, stack.start_worker())
    for trial in range(trial_count(1)):
        workload: Workload = disjoint_workload(f"s{trial}", rng, workflows=2, labels=2)
        expected = oracle(workload, tmp_path / f"oracle-{trial}")
        moto.kill()
        stack.publish(workload.interleaved())
        wait_until(
            lambda w=workload: dead_lettered_runs(stack) >= set(w.runs),
            150,
            "every generation to be dead-lettered",
            stack,
        )
        with stack.sessions() as session:
            assert (
                session.scalar(
                    select(m.Script).where(m.Script.workflow_permanent_id.in_(workload.wpids))
                )
                is None
            )
        time.sleep(rng.uniform(0.0, 3.0))  # the outage lasts a while longer
        moto.start()
        replay = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "scriptcache"), "dlq", "replay", "--all"],
            cwd=ROOT,
            env={**os.environ, **stack.env},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert replay.returncode == 0, replay.stderr
        assert "replayed" in replay.stdout
        assert not dead_lettered_runs(stack), "replay left dead-letter entries behind"
        tally.add(trial, await_recovery(stack, store, workload, expected))
    store.client.close()  # type: ignore[attr-defined]
    tally.report(capsys)
