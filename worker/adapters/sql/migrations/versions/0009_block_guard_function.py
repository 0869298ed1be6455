"""scriptcache_block_guard(run_id): a block event's lock and read in one round trip

A block_completed event takes its run's shared advisory lock (so that run_started, which
takes it exclusively while it stores and scrubs, cannot pass it unseen) and then reads the
run's seals and workflow version (worker/secrets/credentials.py). Two statements, because a single
statement reads with the snapshot it started with, before the lock was granted; inside a
VOLATILE function each statement takes a fresh snapshot, so the read after the lock sees a
run_started that committed while the block waited. PostgreSQL only.

Revision ID: 0009
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0004"
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION scriptcache_block_guard(run_id VARCHAR)
RETURNS TABLE (o_wpid TEXT, o_version INTEGER, o_key TEXT, o_length INTEGER, o_salt TEXT,
               o_digest TEXT)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hashtextextended(run_id, 0));
    RETURN QUERY
        SELECT r.workflow_permanent_id::TEXT, r.workflow_version::INTEGER,
               s.parameter_key::TEXT, s.length::INTEGER, s.salt::TEXT, s.digest::TEXT
        FROM (SELECT run_id AS id) AS q
        LEFT JOIN workflow_runs AS r ON r.workflow_run_id = q.id
        LEFT JOIN run_secrets AS s ON s.workflow_run_id = q.id;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS scriptcache_block_guard(VARCHAR)")
