"""run_secrets (seals of a run's secret values) and run_debounce's last error

Revision ID: 0008
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_secrets",
        sa.Column("workflow_run_id", sa.String(256), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("parameter_key", sa.Text(), nullable=False),
        sa.Column("length", sa.Integer(), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("workflow_run_id", "digest", name="pk_run_secrets"),
    )
    with op.batch_alter_table("run_debounce") as batch:
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("last_traceback", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_debounce") as batch:
        batch.drop_column("last_traceback")
        batch.drop_column("last_error")
    op.drop_table("run_secrets")
