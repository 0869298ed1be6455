"""A block_completed event taken in on PostgreSQL with ONE statement.

Block events are nearly all of the traffic (a run of n blocks sends n + 2 events), and each
used to cost eight round trips and seven statements built and sent through SQLAlchemy; the
worker spent more time there than in the database. This statement does the same work as
`first_delivery` + `record_event` + `debounce.bump` (intake.record_and_bump's generic path, used for
the other events and on SQLite) in a single data-modifying CTE:

- `received` remembers the event id; on a redelivery it returns no row, and every other part
  reads from it, so a redelivered event changes nothing;
- the run's row (pending until run_started), the block, its task and its actions are upserted
  as recording.py does it: the same rows (`recording.block_rows`), the same columns and
  conflict rules (`recording.UPSERT_KEYS`, `updated_columns`), written here as SQL text;
- the debounce record is bumped by the one window rule (`window.after_event`), rendered as
  SQL expressions over the record's current row (`SqlOps`, below).

Lock order matters: PostgreSQL runs a data-modifying CTE that the main statement does not
read only after the main statement, so the debounce row would be locked before the run's
row, the reverse of the generic path (run_started, run_finished), and the two deadlocked
(PostgreSQL broke it after deadlock_timeout, 1 s; the retry cost ~2 s of latency). The
bump's `WHERE (SELECT count(*) FROM run) >= 0` makes the run's row come first, as there.

tests/integration/test_block_intake.py records the same event streams (redeliveries, out of
order, loops, credentials) through both paths and compares every row of every table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import (
    DateTime,
    Float,
    TextClause,
    and_,
    bindparam,
    case,
    cast,
    column,
    extract,
    func,
    literal_column,
    or_,
    table,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from worker.adapters.sql import models as m
from worker.adapters.sql.debounce import Bumped, wakes_up
from worker.adapters.sql.recording import (
    RUN_PENDING,
    UPSERT_KEYS,
    block_rows,
    columns,
    stored_form,
    updated_columns,
)
from worker.domain import window
from worker.domain.events import BlockCompleted

PG = postgresql.dialect()  # type: ignore[no-untyped-call]  # sqlalchemy leaves it untyped
# The debounce record before its run's first event: the INSERT branch of the bump.
EMPTY = SimpleNamespace(
    seq=0,
    last_event_at=None,
    gap_s=None,
    first_pending_at=None,
    first_pending_seq=None,
    due_at=None,
    leased_seq=None,
    lease_until=None,
)
# The record's current row, as the ON CONFLICT branch reads it (`run_debounce AS d`).
CURRENT = table("d", *(column(name) for name in vars(EMPTY)))


def _upsert(model: type[m.Base], select: str) -> str:
    """INSERT ... SELECT ... ON CONFLICT (key) DO UPDATE of every column, by
    recording.UPSERT_KEYS: `updated_columns` plus the key, which keeps its value (one
    row-valued SET is shorter than a SET per column, and the statement must stay short)."""
    names = ", ".join(columns(model))
    assert set(columns(model)) == {UPSERT_KEYS[model], *updated_columns(model)}
    return (
        f"INSERT INTO {model.__tablename__} ({names}) {select} "
        f"ON CONFLICT ({UPSERT_KEYS[model]}) DO UPDATE SET ({names}) = ROW(excluded.*)"
    )


def _from_params(model: type[m.Base]) -> str:
    """The SELECT list of a row given as bind parameters; the run id comes from `received`."""
    return ", ".join(
        "workflow_run_id" if c == "workflow_run_id" else f":{c}" for c in columns(model)
    )


def _text(expression: Any) -> str:
    return str(expression.compile(dialect=PG, compile_kwargs={"literal_binds": True}))


def _sql(timing: window.Timing) -> str:
    ops = SqlOps()
    bumped = window.after_event(CURRENT.c, literal_column(":now"), timing, immediate=False, ops=ops)
    steps = ", ".join(
        f"{'LATERAL ' if i else ''}(SELECT {_text(expr)} AS {name}) w{i}"
        for i, (name, expr) in enumerate(ops.steps)
    )
    sets = (
        f"({', '.join(bumped)}) = "
        f"(SELECT {', '.join(_text(expr) for expr in bumped.values())} FROM {steps})"
    )
    kept = ("processed_seq", "attempts", "generations")
    return f"""
WITH received AS (
    INSERT INTO received_events (event_id, workflow_run_id, received_at)
    VALUES (:event_id, :workflow_run_id, :now)
    ON CONFLICT DO NOTHING
    RETURNING workflow_run_id
), run AS (
    INSERT INTO workflow_runs (workflow_run_id, {", ".join(RUN_PENDING)})
    SELECT workflow_run_id, {", ".join(f":run_{c}" for c in RUN_PENDING)} FROM received
    ON CONFLICT DO NOTHING
    RETURNING 1
), block AS (
    {_upsert(m.WorkflowRunBlock, f"SELECT {_from_params(m.WorkflowRunBlock)} FROM received")}
), task AS (
    {_upsert(m.Task, f"SELECT {_from_params(m.Task)} FROM received WHERE :has_task")}
), actions AS (
    {
        _upsert(
            m.Action,
            "SELECT a.* FROM received, jsonb_populate_recordset(CAST(NULL AS actions), :actions) a",
        )
    }
)
INSERT INTO run_debounce AS d (workflow_run_id, {", ".join(bumped)}, {", ".join(kept)})
SELECT workflow_run_id, {", ".join(f":new_{c}" for c in bumped)}, 0, 0, 0 FROM received
WHERE (SELECT count(*) FROM run) >= 0
ON CONFLICT (workflow_run_id) DO UPDATE SET {sets}
RETURNING d.due_at, d.seq, d.first_pending_seq, d.lease_until
"""


@cache
def _statement(timing: window.Timing) -> TextClause:
    typed = {
        c.name: c.type for model in (m.WorkflowRunBlock, m.Task) for c in model.__table__.columns
    }
    timestamps = ("now", "new_last_event_at", "new_first_pending_at", "new_due_at")
    # Sent as one line: psycopg caches its parse of a query only up to 4,096 bytes.
    return text(" ".join(_sql(timing).split())).bindparams(
        *(bindparam(name, type_=DateTime(timezone=True)) for name in timestamps),
        *(
            bindparam(name, type_=type_)
            for name, type_ in typed.items()
            if name != "workflow_run_id"
        ),
        bindparam("actions", type_=JSONB),
    )


def take_in_block(
    session: Session, event: BlockCompleted, now: datetime, timing: window.Timing
) -> Bumped | None:
    """Record a block event and bump its run's debounce record; None for a redelivery."""
    block, task, actions = block_rows(stored_form(event))
    first = window.after_event(EMPTY, now, timing, immediate=False)
    params: dict[str, Any] = {
        **{c: None for c in columns(m.Task)},
        **block,
        **(task or {}),
        "event_id": event.event_id,
        "now": now,
        "has_task": task is not None,
        **{f"run_{c}": v for c, v in RUN_PENDING.items()},
        **{f"new_{c}": v for c, v in first.items()},
        # One statement cannot update a row twice: an action id repeated within the event
        # keeps its last occurrence, as the generic path's one-by-one upserts do.
        "actions": list({a["action_id"]: a for a in actions}.values()),
    }
    row = session.connection().execute(_statement(timing), params).one_or_none()
    if row is None:
        return None
    due_at, seq, first_pending_seq, lease_until = row
    return Bumped(
        due_at=due_at,
        started_pending=wakes_up(seq, first_pending_seq, lease_until, now, immediate=False),
    )


class SqlOps:
    """SQLAlchemy expressions for PostgreSQL (double precision throughout, so that ln and exp
    are the C library's, as in Python). `let` names an intermediate value; `steps` lists them
    in order, for a chain of LATERAL sub-selects that computes each once."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, Any]] = []

    def let(self, name: str, value: Any) -> Any:
        self.steps.append((name, value))
        return literal_column(name)

    def if_(self, cond: Any, then: Callable[[], Any], else_: Callable[[], Any]) -> Any:
        return case((cond, then()), else_=else_())

    def is_null(self, value: Any) -> Any:
        return value.is_(None)

    def lt(self, a: Any, b: Any) -> Any:
        return a < b

    def le(self, a: Any, b: Any) -> Any:
        return a <= b

    def and_(self, a: Any, b: Any) -> Any:
        return and_(a, b)

    def or_(self, a: Any, b: Any) -> Any:
        return or_(a, b)

    def mul(self, a: Any, b: float) -> Any:
        return a * b

    def coalesce(self, a: Any, b: Any) -> Any:
        return func.coalesce(a, b)

    def least(self, a: Any, b: Any) -> Any:
        return func.least(a, b)

    def greatest(self, a: Any, b: Any) -> Any:
        return func.greatest(a, b)

    def add_s(self, at: Any, seconds: Any) -> Any:
        return at + literal_column("interval '1 second'") * seconds

    def seconds(self, later: Any, earlier: Any) -> Any:
        return cast(extract("epoch", later - earlier), Float)

    def ln(self, value: Any) -> Any:
        return func.ln(value)

    def exp(self, value: Any) -> Any:
        return func.exp(value)
