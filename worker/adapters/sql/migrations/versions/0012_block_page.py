"""workflow_run_blocks.page: the page when a block completed (block_completed.page)

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workflow_run_blocks") as batch:
        batch.add_column(sa.Column(
            "page", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workflow_run_blocks") as batch:
        batch.drop_column("page")
