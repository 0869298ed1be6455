"""Revision control (issue 15): pinned scripts, candidate revisions, the operator audit and
the blob deletions of purges

Revision ID: 0005
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSONValue = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("scripts") as batch:
        batch.add_column(
            sa.Column("pinned", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("script_revisions") as batch:
        batch.add_column(
            sa.Column("candidate", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "script_audit",
        sa.Column("audit_id", BigId, autoincrement=True, nullable=False),
        sa.Column("workflow_permanent_id", sa.String(256), nullable=False),
        sa.Column("cache_key_value", sa.Text(), nullable=True),
        sa.Column("script_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=True),
        sa.Column("to_version", sa.Integer(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("details", JSONValue, nullable=True),
        sa.PrimaryKeyConstraint("audit_id", name=op.f("pk_script_audit")),
    )
    op.create_index(
        op.f("ix_script_audit_workflow_permanent_id"), "script_audit", ["workflow_permanent_id"]
    )
    op.create_table(
        "blob_deletions",
        sa.Column("deletion_id", BigId, autoincrement=True, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("audit_id", sa.BigInteger(), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("deletion_id", name=op.f("pk_blob_deletions")),
    )
    op.create_index(op.f("ix_blob_deletions_sha256"), "blob_deletions", ["sha256"])


def downgrade() -> None:
    op.drop_index(op.f("ix_blob_deletions_sha256"), table_name="blob_deletions")
    op.drop_table("blob_deletions")
    op.drop_index(op.f("ix_script_audit_workflow_permanent_id"), table_name="script_audit")
    op.drop_table("script_audit")
    with op.batch_alter_table("script_revisions") as batch:
        batch.drop_column("candidate")
    with op.batch_alter_table("scripts") as batch:
        batch.drop_column("pinned")
