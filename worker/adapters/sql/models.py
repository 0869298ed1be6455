"""Tables (ARCHITECTURE.md §5) as SQLAlchemy 2 typed models."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONValue = JSON().with_variant(JSONB(), "postgresql")
# SQLite only auto-increments INTEGER PRIMARY KEY columns.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Id = String(256)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _tz() -> DateTime:
    return DateTime(timezone=True)


# --- recording -------------------------------------------------------------------------------


class Workflow(Base):
    __tablename__ = "workflows"

    workflow_permanent_id: Mapped[str] = mapped_column(Id, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[Any] = mapped_column(JSONValue)
    cache_key: Mapped[str | None] = mapped_column(Text)


class WorkflowRun(Base):
    __tablename__ = "workflow_runs"

    workflow_run_id: Mapped[str] = mapped_column(Id, primary_key=True)
    # Null until run_started arrives (events may come out of order).
    workflow_permanent_id: Mapped[str | None] = mapped_column(Id, index=True)
    workflow_version: Mapped[int | None] = mapped_column(Integer)
    parameters: Mapped[Any] = mapped_column(JSONValue, nullable=True)
    run_with: Mapped[str | None] = mapped_column(String(16))
    code_gen: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime | None] = mapped_column(_tz())
    finished_at: Mapped[datetime | None] = mapped_column(_tz())
    # The revision the run executed (run_started.script), when it ran one.
    script_id: Mapped[int | None] = mapped_column(BigInteger)
    script_version: Mapped[int | None] = mapped_column(Integer)


class WorkflowRunBlock(Base):
    __tablename__ = "workflow_run_blocks"

    workflow_run_block_id: Mapped[str] = mapped_column(Id, primary_key=True)
    workflow_run_id: Mapped[str] = mapped_column(Id, index=True)
    parent_workflow_run_block_id: Mapped[str | None] = mapped_column(Id)
    label: Mapped[str] = mapped_column(Text)
    block_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    executed_with: Mapped[str] = mapped_column(String(16))
    loop_index: Mapped[int | None] = mapped_column(Integer)
    loop_value: Mapped[Any] = mapped_column(JSONValue, nullable=True)
    task_id: Mapped[str | None] = mapped_column(Id)
    occurred_at: Mapped[datetime] = mapped_column(_tz())
    # "element" or "block" when the block's cached code needed the agent; null: none.
    fallback: Mapped[str | None] = mapped_column(String(16))
    # block_completed.output: what the block extracted (credentials redacted), or null.
    output: Mapped[Any] = mapped_column(JSONValue, nullable=True)
    # block_completed.page: the page when the block completed ({url, title, fields}), or null.
    page: Mapped[Any] = mapped_column(JSONValue, nullable=True)


class Task(Base):
    __tablename__ = "tasks"

    task_id: Mapped[str] = mapped_column(Id, primary_key=True)
    workflow_run_id: Mapped[str] = mapped_column(Id, index=True)
    workflow_run_block_id: Mapped[str] = mapped_column(Id)
    url: Mapped[str | None] = mapped_column(Text)
    navigation_goal: Mapped[str | None] = mapped_column(Text)
    data_extraction_goal: Mapped[str | None] = mapped_column(Text)
    extracted_information_schema: Mapped[Any] = mapped_column(JSONValue, nullable=True)


class Action(Base):
    __tablename__ = "actions"

    action_id: Mapped[str] = mapped_column(Id, primary_key=True)
    task_id: Mapped[str | None] = mapped_column(Id)
    workflow_run_id: Mapped[str] = mapped_column(Id, index=True)
    workflow_run_block_id: Mapped[str] = mapped_column(Id)
    ordinal: Mapped[int] = mapped_column(Integer)
    action_type: Mapped[str] = mapped_column(String(64))
    xpath: Mapped[str | None] = mapped_column(Text)
    intention: Mapped[str | None] = mapped_column(Text)
    reasoning: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str | None] = mapped_column(Text)
    option: Mapped[str | None] = mapped_column(Text)
    parameter_key: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(32))
    source: Mapped[str | None] = mapped_column(String(16))  # "code" | "agent"
    # {"tag", "text"}: the element the action was performed on (actions[].element)
    element: Mapped[Any] = mapped_column(JSONValue, nullable=True)


# --- debounce --------------------------------------------------------------------------------


class RunDebounce(Base):
    __tablename__ = "run_debounce"

    workflow_run_id: Mapped[str] = mapped_column(Id, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    first_pending_at: Mapped[datetime | None] = mapped_column(_tz())
    last_event_at: Mapped[datetime | None] = mapped_column(_tz())
    due_at: Mapped[datetime | None] = mapped_column(_tz())
    # The seq of the event that made the record pending: equal to seq means "just started".
    first_pending_seq: Mapped[int | None] = mapped_column(BigInteger)
    lease_token: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(_tz())
    # The seq the current lease covers: a later event starts the next window (window.py).
    leased_seq: Mapped[int | None] = mapped_column(BigInteger)
    # The run's typical gap between events, in seconds (a moving geometric mean).
    gap_s: Mapped[float | None] = mapped_column(Float)
    processed_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    generations: Mapped[int] = mapped_column(Integer, default=0)
    # The last failed attempt's error and traceback: what a give-up dead-letters.
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_traceback: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_run_debounce_due_at", "due_at"),)


class ReceivedEvent(Base):
    """Event ids already taken in by the worker: a redelivered event changes nothing."""

    __tablename__ = "received_events"

    event_id: Mapped[str] = mapped_column(Id, primary_key=True)
    workflow_run_id: Mapped[str] = mapped_column(Id, index=True)
    received_at: Mapped[datetime] = mapped_column(_tz())


# --- cache -----------------------------------------------------------------------------------


class Script(Base):
    __tablename__ = "scripts"

    script_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workflow_permanent_id: Mapped[str] = mapped_column(Id)
    cache_key_value: Mapped[str] = mapped_column(Text)
    current_revision_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(_tz())
    # Pinned: generation stores new revisions as candidates; only an operator moves the pointer.
    pinned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The last run whose fallbacks the repair budget did not repair, and the decision's words
    # (`scriptcache script history` shows them; the worker's log has every one).
    repair_held_at: Mapped[datetime | None] = mapped_column(_tz(), nullable=True)
    repair_held_run: Mapped[str | None] = mapped_column(Id, nullable=True)
    repair_held_reason: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (UniqueConstraint("workflow_permanent_id", "cache_key_value"),)


class ScriptRevision(Base):
    __tablename__ = "script_revisions"

    script_revision_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    script_id: Mapped[int] = mapped_column(ForeignKey("scripts.script_id"))
    version: Mapped[int] = mapped_column(Integer)
    workflow_version: Mapped[int] = mapped_column(Integer)
    source_workflow_run_id: Mapped[str] = mapped_column(Id)
    content_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(_tz())
    # Made because cached blocks fell back (counted by the repair budget).
    repair: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Stored while the script was pinned and never made live since.
    candidate: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (UniqueConstraint("script_id", "version"),)


class ScriptFile(Base):
    __tablename__ = "script_files"

    script_revision_id: Mapped[int] = mapped_column(
        ForeignKey("script_revisions.script_revision_id"), primary_key=True
    )
    path: Mapped[str] = mapped_column(Text, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)


class ScriptBlock(Base):
    __tablename__ = "script_blocks"

    script_revision_id: Mapped[int] = mapped_column(
        ForeignKey("script_revisions.script_revision_id"), primary_key=True
    )
    label: Mapped[str] = mapped_column(Text, primary_key=True)
    block_type: Mapped[str] = mapped_column(String(64))
    run_signature: Mapped[str | None] = mapped_column(Text)
    code_sha256: Mapped[str | None] = mapped_column(String(64))
    definition_sha256: Mapped[str | None] = mapped_column(String(64))
    source_workflow_run_id: Mapped[str | None] = mapped_column(Id)
    source_workflow_run_block_id: Mapped[str | None] = mapped_column(Id)
    input_fields: Mapped[Any] = mapped_column(JSONValue, nullable=True)
    # Where this entry's code lives in the revision (blocks/<name>.py); null for the orchestrator.
    path: Mapped[str | None] = mapped_column(Text)


class ScriptAudit(Base):
    """Operator actions on a workflow's scripts; kept when the script itself is purged."""

    __tablename__ = "script_audit"

    audit_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    workflow_permanent_id: Mapped[str] = mapped_column(Id, index=True)
    cache_key_value: Mapped[str | None] = mapped_column(Text)
    script_id: Mapped[int | None] = mapped_column(BigInteger)  # no foreign key: purge keeps it
    action: Mapped[str] = mapped_column(String(16))
    from_version: Mapped[int | None] = mapped_column(Integer)
    to_version: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(_tz())
    details: Mapped[Any] = mapped_column(JSONValue, nullable=True)


class BlobDeletion(Base):
    """A blob a purge deletes: pending until done_at. A revision published after its blobs
    were uploaded checks these rows, so it never commits a reference to a deleted blob."""

    __tablename__ = "blob_deletions"

    deletion_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    audit_id: Mapped[int | None] = mapped_column(BigInteger)
    requested_at: Mapped[datetime] = mapped_column(_tz())
    done_at: Mapped[datetime | None] = mapped_column(_tz())


# --- secrets ---------------------------------------------------------------------------------


class RunSecret(Base):
    """Seals of a run's secret values (worker/secrets/seals.py): a salt and a SHA-256, never the
    value. They let intake redact the value from block events that arrive after run_started."""

    __tablename__ = "run_secrets"

    workflow_run_id: Mapped[str] = mapped_column(Id, primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    parameter_key: Mapped[str] = mapped_column(Text)
    length: Mapped[int] = mapped_column(Integer)
    salt: Mapped[str] = mapped_column(String(64))


# --- operations ------------------------------------------------------------------------------


class DeadLetter(Base):
    """The dead-letter queue: kept in the database so an emptied Redis loses nothing."""

    __tablename__ = "dead_letters"

    dead_letter_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task_name: Mapped[str] = mapped_column(String(128))
    payload: Mapped[Any] = mapped_column(JSONValue)  # redacted
    workflow_run_id: Mapped[str | None] = mapped_column(Id, index=True)
    event_id: Mapped[str | None] = mapped_column(Id)
    error: Mapped[str] = mapped_column(Text)
    traceback: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    failed_at: Mapped[datetime] = mapped_column(_tz())
