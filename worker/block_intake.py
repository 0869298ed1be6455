"""A block_completed event taken in on PostgreSQL with ONE statement.

Block events are nearly all of the traffic (a run of n blocks sends n + 2 events), and each
used to cost eight round trips and seven statements built and sent through SQLAlchemy; the
worker spent more time there than in the database. This statement does the same work as
`first_delivery` + `record_event` + `debounce.bump` (intake.record_and_bump's generic path, used for
the other events and on SQLite) in a single data-modifying CTE:

- `received` remembers the event id; on a redelivery it returns no row, and every other part
  reads from it, so a redelivered event changes nothing;
- the run's row (pending until run_started), the block, its task and its actions are upserted
  exactly as recording.py does it, from the same rows (`recording.block_rows`);
- the debounce record is bumped with the same arithmetic as `debounce.bump`.

Lock order matters: PostgreSQL runs a data-modifying CTE that the main statement does not
read only after the main statement, so the debounce row would be locked before the run's
row, the reverse of the generic path (run_started, run_finished), and the two deadlocked
(PostgreSQL broke it after deadlock_timeout, 1 s; the retry cost ~2 s of latency). The
bump's `WHERE (SELECT count(*) FROM run) >= 0` makes the run's row come first, as there.

tests/integration/test_block_intake.py records the same event streams (redeliveries, out of
order, loops, credentials) through both paths and compares every row of every table.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import DateTime, TextClause, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from worker import models as m
from worker.debounce import Bumped
from worker.events import BlockCompleted
from worker.recording import PENDING, block_rows, stored_form

# The actions' columns, as jsonb_to_recordset reads them and in the order they are inserted.
ACTION_COLUMNS = (
    ("action_id", "text"), ("task_id", "text"), ("workflow_run_id", "text"),
    ("workflow_run_block_id", "text"), ("ordinal", "integer"), ("action_type", "text"),
    ("xpath", "text"), ("intention", "text"), ("reasoning", "text"), ("text", "text"),
    ("option", "text"), ("parameter_key", "text"), ("status", "text"), ("source", "text"),
)

SQL = f"""
WITH received AS (
    INSERT INTO received_events (event_id, workflow_run_id, received_at)
    VALUES (:event_id, :workflow_run_id, :now)
    ON CONFLICT DO NOTHING
    RETURNING workflow_run_id
), run AS (
    INSERT INTO workflow_runs (workflow_run_id, status, code_gen)
    SELECT workflow_run_id, '{PENDING}', false FROM received
    ON CONFLICT DO NOTHING
    RETURNING 1
), block AS (
    INSERT INTO workflow_run_blocks AS b (
        workflow_run_block_id, workflow_run_id, parent_workflow_run_block_id, label,
        block_type, status, executed_with, loop_index, loop_value, task_id, occurred_at,
        fallback, output)
    SELECT :workflow_run_block_id, workflow_run_id, :parent_workflow_run_block_id, :label,
        :block_type, :status, :executed_with, :loop_index, :loop_value, :task_id, :occurred_at,
        :fallback, :output
    FROM received
    ON CONFLICT (workflow_run_block_id) DO UPDATE SET
        workflow_run_id = excluded.workflow_run_id,
        parent_workflow_run_block_id = excluded.parent_workflow_run_block_id,
        label = excluded.label, block_type = excluded.block_type, status = excluded.status,
        executed_with = excluded.executed_with, loop_index = excluded.loop_index,
        loop_value = excluded.loop_value, task_id = excluded.task_id,
        occurred_at = excluded.occurred_at, fallback = excluded.fallback,
        output = excluded.output
), task AS (
    INSERT INTO tasks (task_id, workflow_run_id, workflow_run_block_id, url, navigation_goal,
        data_extraction_goal, extracted_information_schema)
    SELECT :task_id, workflow_run_id, :workflow_run_block_id, :url, :navigation_goal,
        :data_extraction_goal, :extracted_information_schema
    FROM received WHERE :has_task
    ON CONFLICT (task_id) DO UPDATE SET
        workflow_run_id = excluded.workflow_run_id,
        workflow_run_block_id = excluded.workflow_run_block_id, url = excluded.url,
        navigation_goal = excluded.navigation_goal,
        data_extraction_goal = excluded.data_extraction_goal,
        extracted_information_schema = excluded.extracted_information_schema
), actions AS (
    INSERT INTO actions ({", ".join(name for name, _ in ACTION_COLUMNS)})
    SELECT a.* FROM received,
        jsonb_to_recordset(:actions) AS a({", ".join(" ".join(c) for c in ACTION_COLUMNS)})
    ON CONFLICT (action_id) DO UPDATE SET
        task_id = excluded.task_id, workflow_run_id = excluded.workflow_run_id,
        workflow_run_block_id = excluded.workflow_run_block_id, ordinal = excluded.ordinal,
        action_type = excluded.action_type, xpath = excluded.xpath,
        intention = excluded.intention, reasoning = excluded.reasoning, text = excluded.text,
        option = excluded.option, parameter_key = excluded.parameter_key,
        status = excluded.status, source = excluded.source
)
INSERT INTO run_debounce AS d (workflow_run_id, seq, first_pending_at, last_event_at,
    deadline_at, due_at, first_pending_seq, processed_seq, attempts, generations)
SELECT workflow_run_id, 1, :now, :now, :deadline, :first_due, 1, 0, 0, 0 FROM received
WHERE (SELECT count(*) FROM run) >= 0
ON CONFLICT (workflow_run_id) DO UPDATE SET
    seq = d.seq + 1,
    last_event_at = :now,
    first_pending_at = CASE WHEN d.due_at IS NULL THEN :now ELSE d.first_pending_at END,
    deadline_at = CASE WHEN d.due_at IS NULL THEN :deadline ELSE d.deadline_at END,
    first_pending_seq = CASE WHEN d.due_at IS NULL THEN d.seq + 1 ELSE d.first_pending_seq END,
    due_at = CASE WHEN d.due_at IS NULL THEN :first_due
                  WHEN d.deadline_at < :quiet_due THEN d.deadline_at
                  ELSE :quiet_due END
RETURNING d.due_at, d.seq, d.first_pending_seq
"""


@cache
def _statement() -> TextClause:
    json = m.JSONValue
    # Sent as one line: psycopg caches its parse of a query only up to 4,096 bytes.
    return text(" ".join(SQL.split())).bindparams(
        *(bindparam(name, type_=DateTime(timezone=True))
          for name in ("now", "deadline", "first_due", "quiet_due", "occurred_at")),
        bindparam("loop_value", type_=json),
        bindparam("output", type_=json),
        bindparam("extracted_information_schema", type_=json),
        bindparam("actions", type_=JSONB),
    )


def take_in_block(session: Session, event: BlockCompleted, now: datetime, *, quiet_s: float,
                  max_wait_s: float) -> Bumped | None:
    """Record a block event and bump its run's debounce record; None for a redelivery."""
    block, task, actions = block_rows(stored_form(event))
    quiet_due = now + timedelta(seconds=quiet_s)
    deadline = now + timedelta(seconds=max_wait_s)
    params: dict[str, Any] = {
        **block,
        "event_id": event.event_id,
        "now": now, "deadline": deadline, "quiet_due": quiet_due,
        "first_due": min(quiet_due, deadline),
        "has_task": task is not None,
        "url": None, "navigation_goal": None, "data_extraction_goal": None,
        "extracted_information_schema": None,
        **(task or {}),
        # One statement cannot update a row twice: an action id repeated within the event
        # keeps its last occurrence, as the generic path's one-by-one upserts do.
        "actions": list({a["action_id"]: a for a in actions}.values()),
    }
    row = session.connection().execute(_statement(), params).one_or_none()
    if row is None:
        return None
    due_at, seq, first_pending_seq = row
    return Bumped(due_at=due_at, started_pending=seq == first_pending_seq)
