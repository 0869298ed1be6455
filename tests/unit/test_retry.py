"""What a failed generation attempt leads to (worker.app.retry.after_failure), from a table."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from config.settings import Settings
from worker.app import retry
from worker.domain.errors import LeaseLost, PermanentError, RunNotStarted, TransientError

SETTINGS = Settings(max_retries=3, retry_backoff_max_s=60.0, run_start_wait_s=100.0)
DB_DOWN = OperationalError("SELECT 1", {}, Exception("server closed the connection"))
INVALIDATED = DBAPIError("SELECT 1", {}, Exception("gone"), connection_invalidated=True)
OTHER_DB = DBAPIError("SELECT 1", {}, Exception("syntax error"))


@pytest.mark.parametrize(
    ("error", "attempts", "waited_s", "expected"),
    [
        pytest.param(
            TransientError("store down"),
            1,
            0,
            retry.Retry(1.0, True, "retrying after TransientError: store down"),
            id="a transient error retries after 1 s",
        ),
        pytest.param(
            TransientError("x"),
            3,
            0,
            retry.Retry(4.0, True, "retrying after TransientError: x"),
            id="the backoff doubles per attempt",
        ),
        pytest.param(
            DB_DOWN,
            2,
            0,
            retry.Retry(2.0, True, f"retrying after OperationalError: {DB_DOWN}"),
            id="a lost database connection is transient",
        ),
        pytest.param(
            INVALIDATED,
            1,
            0,
            retry.Retry(1.0, True, f"retrying after DBAPIError: {INVALIDATED}"),
            id="an invalidated connection is transient",
        ),
        pytest.param(
            TimeoutError("t"),
            4,
            0,
            retry.GiveUp("gave up after 4 attempts: TimeoutError: t"),
            id="the last attempt gives up with cause",
        ),
        pytest.param(
            PermanentError("bad key"),
            1,
            0,
            retry.GiveUp("PermanentError: bad key"),
            id="a permanent error gives up at once",
        ),
        pytest.param(
            LeaseLost("taken"),
            1,
            0,
            retry.Drop("rolled back: taken"),
            id="a lost lease does nothing: the new holder owns the run",
        ),
        pytest.param(
            RunNotStarted("r"),
            1,
            50,
            retry.Retry(1.0, False, "waiting for run_started"),
            id="waiting for run_started does not count as an attempt",
        ),
        pytest.param(
            RunNotStarted("r"),
            1,
            101,
            retry.GiveUp(
                "run_started never arrived (101 s, over SCRIPTCACHE_RUN_START_WAIT_S=100)"
            ),
            id="run_started that never arrives gives up after its own limit",
        ),
        pytest.param(
            KeyError("k"),
            1,
            0,
            retry.GiveUp("unexpected error: KeyError: 'k'", True),
            id="a programming error is not retried and is marked unexpected",
        ),
        pytest.param(
            OTHER_DB,
            1,
            0,
            retry.GiveUp(f"unexpected error: DBAPIError: {OTHER_DB}", True),
            id="a database error on a live connection is unexpected",
        ),
    ],
)
def test_a_failed_attempt_leads_to_one_verdict(
    error: Exception,
    attempts: int,
    waited_s: float,
    expected: retry.Retry | retry.GiveUp | retry.Drop,
) -> None:
    assert (
        retry.after_failure(error, attempts=attempts, waited_s=waited_s, settings=SETTINGS)
        == expected
    )


@pytest.mark.parametrize(("attempts", "exhausted"), [(1, False), (4, False), (5, True)])
def test_the_retry_budget_is_max_retries_plus_the_first_attempt(
    attempts: int,
    exhausted: bool,
) -> None:
    assert retry.exhausted(attempts, SETTINGS) is exhausted
