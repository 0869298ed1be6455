"""The script cache in the database: publish a revision in one transaction, read it back.

Repositories take a session and never commit; the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker import models as m
from worker.db import insert_for
from worker.decision import Entry
from worker.errors import PermanentError, TransientError

if TYPE_CHECKING:
    from worker.codegen import GeneratedScript


class StaleRevision(TransientError):
    """Another writer published a revision since this one read the live revision."""


@dataclass(frozen=True)
class LiveRevision:
    script_id: int
    revision_id: int
    version: int
    content_sha256: str
    entries: dict[str, Entry]
    paths: dict[str, str]  # label -> blocks/<name>.py
    files: dict[str, str]  # path -> sha256


@dataclass(frozen=True)
class Published:
    script_id: int
    revision_id: int | None  # None: the content equalled the live revision, nothing written
    version: int | None


def find_script(session: Session, wpid: str, cache_key_value: str) -> m.Script | None:
    return session.scalars(
        select(m.Script).where(
            m.Script.workflow_permanent_id == wpid,
            m.Script.cache_key_value == cache_key_value,
        )
    ).one_or_none()


def scripts_of(session: Session, wpid: str) -> list[m.Script]:
    return list(
        session.scalars(
            select(m.Script)
            .where(m.Script.workflow_permanent_id == wpid)
            .order_by(m.Script.cache_key_value)
        )
    )


def read_revision(
    session: Session, script: m.Script, revision_id: int | None
) -> LiveRevision | None:
    """A revision with its entries and files, in three queries."""
    if revision_id is None:
        return None
    revision = session.get(m.ScriptRevision, revision_id)
    if revision is None:
        raise PermanentError(f"script {script.script_id}: revision {revision_id} is missing")
    rows = session.scalars(
        select(m.ScriptBlock).where(m.ScriptBlock.script_revision_id == revision_id)
    ).all()
    files = session.execute(
        select(m.ScriptFile.path, m.ScriptFile.sha256).where(
            m.ScriptFile.script_revision_id == revision_id
        )
    ).all()
    return LiveRevision(
        script_id=script.script_id,
        revision_id=revision.script_revision_id,
        version=revision.version,
        content_sha256=revision.content_sha256,
        entries={r.label: _entry(r) for r in rows},
        paths={r.label: r.path for r in rows if r.path},
        files={path: sha for path, sha in files},
    )


def live_revision(session: Session, wpid: str, cache_key_value: str) -> LiveRevision | None:
    script = find_script(session, wpid, cache_key_value)
    return None if script is None else read_revision(session, script, script.current_revision_id)


def revision_by_version(session: Session, script: m.Script, version: int) -> LiveRevision:
    revision_id = session.scalar(
        select(m.ScriptRevision.script_revision_id).where(
            m.ScriptRevision.script_id == script.script_id, m.ScriptRevision.version == version
        )
    )
    if revision_id is None:
        raise PermanentError(f"script {script.script_id} has no version {version}")
    found = read_revision(session, script, revision_id)
    assert found is not None
    return found


def history(session: Session, script: m.Script) -> list[m.ScriptRevision]:
    return list(
        session.scalars(
            select(m.ScriptRevision)
            .where(m.ScriptRevision.script_id == script.script_id)
            .order_by(m.ScriptRevision.version)
        )
    )


def _entry(row: m.ScriptBlock) -> Entry:
    return Entry(
        label=row.label,
        block_type=row.block_type,
        run_signature=row.run_signature,
        code_sha256=row.code_sha256,
        definition_sha256=row.definition_sha256,
        source_workflow_run_id=row.source_workflow_run_id,
        source_workflow_run_block_id=row.source_workflow_run_block_id,
        input_fields=tuple(row.input_fields or ()),
    )


def publish(
    session: Session,
    *,
    wpid: str,
    cache_key_value: str,
    expected_revision_id: int | None,
    script: GeneratedScript,
    workflow_version: int,
    source_run_id: str,
    file_hashes: Mapping[str, str],
    now: datetime,
    repair: bool = False,
) -> Published:
    """Insert a revision with its files and blocks and flip the live pointer, in the caller's
    transaction. Raises StaleRevision if the live revision moved since it was read."""
    row = _lock_script(session, wpid, cache_key_value, now)
    if row.current_revision_id != expected_revision_id:
        raise StaleRevision(
            f"script {row.script_id}: live revision is {row.current_revision_id}, "
            f"expected {expected_revision_id}"
        )
    if expected_revision_id is not None:
        live_hash = session.scalar(
            select(m.ScriptRevision.content_sha256).where(
                m.ScriptRevision.script_revision_id == expected_revision_id
            )
        )
        if live_hash == script.content_sha256 and _same_entries(
            session, expected_revision_id, script
        ):
            return Published(row.script_id, None, None)
    version = 1 + (
        session.scalar(
            select(func.max(m.ScriptRevision.version)).where(
                m.ScriptRevision.script_id == row.script_id
            )
        )
        or 0
    )
    revision = m.ScriptRevision(
        script_id=row.script_id,
        version=version,
        workflow_version=workflow_version,
        source_workflow_run_id=source_run_id,
        content_sha256=script.content_sha256,
        created_at=now,
        repair=repair,  # counted by the repair budget (worker/repair.py)
    )
    session.add(revision)
    session.flush()
    rid = revision.script_revision_id
    session.execute(
        insert_for(session, m.ScriptFile),
        [
            dict(script_revision_id=rid, path=path, sha256=file_hashes[path], size_bytes=len(data))
            for path, data in script.files.items()
        ],
    )
    session.execute(
        insert_for(session, m.ScriptBlock),
        [
            dict(
                script_revision_id=rid,
                label=b.label,
                block_type=b.block_type,
                run_signature=b.run_signature,
                code_sha256=b.code_sha256,
                definition_sha256=b.definition_sha256,
                source_workflow_run_id=b.source_workflow_run_id,
                source_workflow_run_block_id=b.source_workflow_run_block_id,
                input_fields=list(b.input_fields),
                path=b.path,
            )
            for b in script.blocks.values()
        ],
    )
    row.current_revision_id = rid
    session.flush()
    return Published(row.script_id, rid, version)


def _same_entries(session: Session, revision_id: int, script: GeneratedScript) -> bool:
    """Equal files are not enough: an entry whose block definition changed while its code did
    not must be written with the new definition hash, or it never becomes executable again."""
    b = m.ScriptBlock
    live = {
        tuple(row)
        for row in session.execute(
            select(
                b.label, b.block_type, b.run_signature, b.code_sha256, b.definition_sha256
            ).where(b.script_revision_id == revision_id)
        )
    }
    return live == {
        (e.label, e.block_type, e.run_signature, e.code_sha256, e.definition_sha256)
        for e in script.blocks.values()
    }


def _lock_script(session: Session, wpid: str, cache_key_value: str, now: datetime) -> m.Script:
    """Get or create the script row and hold its lock until commit (SELECT ... FOR UPDATE;
    SQLite transactions are already exclusive: BEGIN IMMEDIATE)."""
    session.execute(
        insert_for(session, m.Script)
        .values(
            workflow_permanent_id=wpid,
            cache_key_value=cache_key_value,
            created_at=now,
        )
        .on_conflict_do_nothing()
    )
    return session.scalars(
        select(m.Script)
        .where(
            m.Script.workflow_permanent_id == wpid,
            m.Script.cache_key_value == cache_key_value,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
