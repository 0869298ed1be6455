"""workflow_run_blocks.output: what a block extracted (block_completed.output)

Revision ID: 0006
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_run_blocks") as batch:
        batch.add_column(sa.Column(
            "output", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_run_blocks") as batch:
        batch.drop_column("output")
