"""scripts.repair_held_*: the last run whose repair the daily budget held back, and why

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("scripts") as batch:
        batch.add_column(sa.Column("repair_held_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("repair_held_run", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("repair_held_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scripts") as batch:
        batch.drop_column("repair_held_reason")
        batch.drop_column("repair_held_run")
        batch.drop_column("repair_held_at")
