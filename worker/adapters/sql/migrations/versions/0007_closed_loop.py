"""The closed loop: what a run executed and where it fell back; repair revisions

run_started.script, block_completed.fallback and actions[].source (ARCHITECTURE.md §8) are
recorded; script_revisions.repair marks the revisions the repair budget counts.

Revision ID: 0007
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_runs") as batch:
        batch.add_column(sa.Column("script_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("script_version", sa.Integer(), nullable=True))
    with op.batch_alter_table("workflow_run_blocks") as batch:
        batch.add_column(sa.Column("fallback", sa.String(length=16), nullable=True))
    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("source", sa.String(length=16), nullable=True))
    with op.batch_alter_table("script_revisions") as batch:
        batch.add_column(sa.Column("repair", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("script_revisions") as batch:
        batch.drop_column("repair")
    with op.batch_alter_table("actions") as batch:
        batch.drop_column("source")
    with op.batch_alter_table("workflow_run_blocks") as batch:
        batch.drop_column("fallback")
    with op.batch_alter_table("workflow_runs") as batch:
        batch.drop_column("script_version")
        batch.drop_column("script_id")
