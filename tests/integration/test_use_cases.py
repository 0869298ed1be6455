"""The worker's use cases (worker/app/intake.py, worker/app/generation.py): intake, debounce, lease
and fencing against real PostgreSQL (no broker: these functions are what the tasks call)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from tests.factory import RunBuilder, definition, linear_run, task_block
from worker.adapters.clock import ManualClock, utcnow
from worker.adapters.sql import debounce
from worker.adapters.sql import models as m
from worker.adapters.store import MemoryStore
from worker.app.generation import generate_due
from worker.app.intake import take_in as intake
from worker.domain.errors import LeaseLost, PermanentError

SETTINGS = Settings(quiet_s=1.0, max_wait_s=5.0, run_start_wait_s=30.0, max_retries=2)


def take_in(sessions: sessionmaker[Session], events: list[dict], now=None) -> list:  # type: ignore[no-untyped-def,type-arg]
    clock = ManualClock(now)
    return [intake(sessions, e, e["type"], SETTINGS, clock) for e in events]


def record(sessions: sessionmaker[Session], run_id: str) -> m.RunDebounce:
    with sessions() as session:
        row = session.get(m.RunDebounce, run_id)
        assert row is not None
        return row


def make_due(sessions: sessionmaker[Session], run_id: str) -> None:
    with sessions.begin() as session:
        row = session.get(m.RunDebounce, run_id)
        assert row is not None
        row.due_at = utcnow() - timedelta(seconds=1)


def test_a_redelivered_event_changes_nothing(pg_sessions: sessionmaker[Session]) -> None:
    events = linear_run("wr_dup", "wf_dup", ["a"], finish=False)
    first = take_in(pg_sessions, events)
    again = take_in(pg_sessions, events)
    assert [i.duplicate for i in first] == [False, False]
    assert [i.duplicate for i in again] == [True, True]
    assert record(pg_sessions, "wr_dup").seq == 2


def test_the_first_event_of_a_burst_asks_for_a_wake_up_and_later_ones_do_not(
    pg_sessions: sessionmaker[Session],
) -> None:
    now = utcnow()
    intakes = take_in(
        pg_sessions, linear_run("wr_b", "wf_b", ["a", "b", "c"], finish=False), now=now
    )
    assert [i.wake_up for i in intakes] == [True, False, False, False]
    assert intakes[-1].due_at == now + timedelta(seconds=SETTINGS.quiet_s)


def test_run_finished_makes_the_run_due_at_once(pg_sessions: sessionmaker[Session]) -> None:
    now = utcnow()
    intakes = take_in(pg_sessions, linear_run("wr_f", "wf_f", ["a"]), now=now)
    assert intakes[-1].wake_up and intakes[-1].due_at == now


def test_an_event_of_the_wrong_type_for_its_task_is_permanent(
    pg_sessions: sessionmaker[Session],
) -> None:
    event = linear_run("wr_t", "wf_t", ["a"])[0]
    with pytest.raises(PermanentError, match=r"run_started.*block_completed"):
        intake(pg_sessions, event, "block_completed", SETTINGS, utcnow)


def test_a_run_not_due_yet_is_re_armed_not_generated(pg_sessions: sessionmaker[Session]) -> None:
    take_in(pg_sessions, linear_run("wr_n", "wf_n", ["a"], finish=False))
    outcome = generate_due(pg_sessions, MemoryStore(), "wr_n", SETTINGS, utcnow)
    assert outcome.result == "not due yet" and outcome.rearm_at is not None
    assert record(pg_sessions, "wr_n").generations == 0


def test_a_due_run_is_generated_and_its_record_cleared(pg_sessions: sessionmaker[Session]) -> None:
    take_in(pg_sessions, linear_run("wr_g", "wf_g", ["a", "b"]))
    outcome = generate_due(pg_sessions, MemoryStore(), "wr_g", SETTINGS, utcnow)
    assert outcome.result == "generated" and outcome.rearm_at is None
    row = record(pg_sessions, "wr_g")
    assert (row.due_at, row.lease_token, row.generations, row.processed_seq) == (None, None, 1, 4)
    again = generate_due(pg_sessions, MemoryStore(), "wr_g", SETTINGS, utcnow)
    assert again.result == "nothing pending"


def test_an_event_during_a_generation_keeps_the_record_due(
    pg_sessions: sessionmaker[Session],
) -> None:
    run = RunBuilder("wr_tr", "wf_tr", definition([task_block("a"), task_block("b")]))
    run.block("a")
    take_in(pg_sessions, run.events)
    make_due(pg_sessions, "wr_tr")
    with pg_sessions.begin() as session:
        held = debounce.claim(session, "wr_tr", utcnow(), lease_s=SETTINGS.lease_s)
    assert isinstance(held, debounce.Claim)
    run.block("b")
    take_in(pg_sessions, run.events[-1:])  # arrives while the lease is held
    with pg_sessions.begin() as session:
        assert debounce.complete(session, "wr_tr", held, utcnow()) is not None
    row = record(pg_sessions, "wr_tr")
    assert row.due_at is not None and row.lease_token is None and row.processed_seq == held.seq


def test_a_writer_whose_lease_was_taken_over_rolls_back(
    pg_sessions: sessionmaker[Session],
) -> None:
    take_in(pg_sessions, linear_run("wr_l", "wf_l", ["a"], finish=False))
    make_due(pg_sessions, "wr_l")
    with pg_sessions.begin() as session:
        first = debounce.claim(session, "wr_l", utcnow(), lease_s=1)
    later = utcnow() + timedelta(seconds=2)  # the first lease has expired
    with pg_sessions.begin() as session:
        second = debounce.claim(session, "wr_l", later, lease_s=60)
    assert isinstance(first, debounce.Claim) and isinstance(second, debounce.Claim)
    with pytest.raises(LeaseLost), pg_sessions.begin() as session:
        debounce.complete(session, "wr_l", first, utcnow())
    with pg_sessions.begin() as session:
        assert debounce.complete(session, "wr_l", second, later) is None


def test_a_live_lease_makes_a_second_generate_task_do_nothing(
    pg_sessions: sessionmaker[Session],
) -> None:
    take_in(pg_sessions, linear_run("wr_busy", "wf_busy", ["a"]))
    with pg_sessions.begin() as session:
        assert isinstance(debounce.claim(session, "wr_busy", utcnow(), lease_s=60), debounce.Claim)
    outcome = generate_due(pg_sessions, MemoryStore(), "wr_busy", SETTINGS, utcnow)
    assert outcome.result == "leased by a live holder"
    with pg_sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.ScriptRevision)) == 0


def test_blocks_of_a_run_that_never_started_wait_then_are_given_up(
    pg_sessions: sessionmaker[Session],
) -> None:
    events = linear_run("wr_orphan", "wf_orphan", ["a"], finish=False)[1:]
    take_in(pg_sessions, events)
    make_due(pg_sessions, "wr_orphan")
    outcome = generate_due(pg_sessions, MemoryStore(), "wr_orphan", SETTINGS, utcnow)
    assert outcome.result == "waiting for run_started" and outcome.rearm_at is not None
    impatient = Settings(quiet_s=1.0, max_wait_s=5.0, run_start_wait_s=0.001)
    make_due(pg_sessions, "wr_orphan")
    with pytest.raises(PermanentError, match="run_started never arrived"):
        generate_due(pg_sessions, MemoryStore(), "wr_orphan", impatient, utcnow)
    assert record(pg_sessions, "wr_orphan").due_at is None


class BrokenStore(MemoryStore):
    def put(self, data: bytes) -> str:
        from worker.domain.errors import TransientError

        raise TransientError("store down")


def test_a_failing_store_backs_off_durably_and_gives_up_after_the_retry_budget(
    pg_sessions: sessionmaker[Session],
) -> None:
    take_in(pg_sessions, linear_run("wr_s3", "wf_s3", ["a"]))
    for attempt in range(1, SETTINGS.max_retries + 1):
        make_due(pg_sessions, "wr_s3")
        outcome = generate_due(pg_sessions, BrokenStore(), "wr_s3", SETTINGS, utcnow)
        assert outcome.result.startswith("retrying after TransientError"), attempt
        assert outcome.level == "warning"
        assert record(pg_sessions, "wr_s3").attempts == attempt
    make_due(pg_sessions, "wr_s3")
    with pytest.raises(PermanentError, match="gave up after 3 attempts: TransientError"):
        generate_due(pg_sessions, BrokenStore(), "wr_s3", SETTINGS, utcnow)
    assert record(pg_sessions, "wr_s3").due_at is None


class BuggyStore(MemoryStore):
    def put(self, data: bytes) -> str:
        raise KeyError("a programming error")


def test_an_unexpected_error_is_raised_as_itself_and_clears_the_record(
    pg_sessions: sessionmaker[Session],
) -> None:
    take_in(pg_sessions, linear_run("wr_bug", "wf_bug", ["a"]))
    with pytest.raises(KeyError, match="a programming error"):
        generate_due(pg_sessions, BuggyStore(), "wr_bug", SETTINGS, utcnow)
    row = record(pg_sessions, "wr_bug")
    assert (row.due_at, row.lease_token, row.attempts) == (None, None, 0)


def test_a_run_with_nothing_to_generate_is_cleared_in_its_one_transaction(
    pg_sessions: sessionmaker[Session],
) -> None:
    take_in(pg_sessions, linear_run("wr_x", "wf_x", ["a"], executed=[]))
    outcome = generate_due(pg_sessions, MemoryStore(), "wr_x", SETTINGS, utcnow)
    assert outcome.result == "unchanged" and outcome.rearm_at is None
    row = record(pg_sessions, "wr_x")
    assert (row.due_at, row.lease_token, row.generations) == (None, None, 1)


class SlowStore(MemoryStore):
    """Uploads that take longer than the lease: only a heartbeat keeps the lease alive."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s

    def put(self, data: bytes) -> str:
        time.sleep(self.delay_s)
        return super().put(data)


def test_a_generation_longer_than_its_lease_commits_because_the_heartbeat_renews_it(
    pg_sessions: sessionmaker[Session],
) -> None:
    short = Settings(quiet_s=1.0, max_wait_s=5.0, lease_s=3.0)  # renewed every second
    take_in(pg_sessions, linear_run("wr_slow", "wf_slow", ["a"]))
    started = time.monotonic()
    outcome = generate_due(pg_sessions, SlowStore(2.0), "wr_slow", short, utcnow)
    assert time.monotonic() - started > short.lease_s
    assert outcome.result == "generated"
    assert record(pg_sessions, "wr_slow").lease_token is None


class TakenOverStore(MemoryStore):
    """The first upload lets another worker take the lease over, then waits for a beat."""

    def __init__(self, sessions: sessionmaker[Session], run_id: str, wait_s: float) -> None:
        super().__init__()
        self.sessions, self.run_id, self.wait_s, self.puts = sessions, run_id, wait_s, 0

    def put(self, data: bytes) -> str:
        self.puts += 1
        if self.puts == 1:
            with self.sessions.begin() as session:
                row = session.get(m.RunDebounce, self.run_id)
                assert row is not None
                row.lease_token = "another-worker"
                row.lease_until = utcnow() + timedelta(seconds=60)
            time.sleep(self.wait_s)
        return super().put(data)


def test_a_renewal_that_finds_its_lease_taken_over_stops_the_generation_before_the_commit(
    pg_sessions: sessionmaker[Session],
) -> None:
    short = Settings(quiet_s=1.0, max_wait_s=5.0, lease_s=3.0)
    take_in(pg_sessions, linear_run("wr_taken", "wf_taken", ["a", "b"]))
    outcome = generate_due(
        pg_sessions, TakenOverStore(pg_sessions, "wr_taken", 1.5), "wr_taken", short, utcnow
    )
    # stopped by the heartbeat's finding (Lease.check), before the publishing transaction
    assert outcome.result.startswith("rolled back") and "while generating" in outcome.result
    with pg_sessions() as session:
        assert session.scalar(select(func.count()).select_from(m.ScriptRevision)) == 0
    row = record(pg_sessions, "wr_taken")
    assert row.lease_token == "another-worker" and row.generations == 0
