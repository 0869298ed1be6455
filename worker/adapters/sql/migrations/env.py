"""Alembic environment: the URL and connection come from worker.adapters.sql.migrate, never from a file."""

from __future__ import annotations

from alembic import context

from worker.adapters.sql.models import Base

connection = context.config.attributes.get("connection")
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection is not None and connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
