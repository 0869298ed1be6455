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

from worker.adapters.sql import models as m
from worker.adapters.sql.engine import insert_for
from worker.domain.decision import Entry
from worker.domain.errors import PermanentError, TransientError
from worker.domain.inputs import column, inputs_of, keys_of

if TYPE_CHECKING:
    from worker.domain.codegen import GeneratedScript


class StaleRevision(TransientError):
    """Another writer published a revision since this one read the live revision."""


class StaleBlobs(StaleRevision):
    """A purge deleted a blob of this revision after it was uploaded: upload it again."""


class BlobsBeingDeleted(TransientError):
    """A purge is deleting blobs this revision uses; retry once it has finished."""


# Publishers hold it shared, a purge exclusively while it decides which blobs to delete
# (PostgreSQL; on SQLite every transaction is already exclusive).
BLOB_LOCK_KEY = 0x5C_CAC4E_B10B


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
    version: int | None  # the revision written, or None
    candidate: bool = False  # written as a candidate: the script is pinned, live is unchanged
    live_version: int | None = None  # the live revision's version after the commit
    same_as: int | None = None  # nothing written: the content equals this (live or candidate)


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
        input_fields=keys_of(row.input_fields),
        inputs=inputs_of(row.input_fields),
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
    blobs_since: int,
    repair: bool = False,
) -> Published:
    """Insert a revision with its files and blocks and flip the live pointer, in the caller's
    transaction; on a pinned script the revision is stored as a candidate and the pointer
    stays. Raises StaleRevision if the live revision moved since it was read, StaleBlobs or
    BlobsBeingDeleted if a purge deleted (or is deleting) one of its blobs since
    `blobs_since` (the blob_watermark read before the uploads), RunPurged if its run is gone.
    """
    lock_blobs(session, exclusive=False)
    if session.get(m.WorkflowRun, source_run_id) is None:
        raise RunPurged(f"run {source_run_id} is no longer recorded (purged): nothing published")
    _check_blobs(session, set(file_hashes.values()), blobs_since)
    row = _lock_script(session, wpid, cache_key_value, now)
    if row.current_revision_id != expected_revision_id:
        raise StaleRevision(
            f"script {row.script_id}: live revision is {row.current_revision_id}, "
            f"expected {expected_revision_id}"
        )
    live_version = _version_of(session, row.current_revision_id)
    same = _equal_revision(session, row, script)
    if same is not None:
        return Published(row.script_id, None, None, False, live_version, same_as=same)
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
        candidate=row.pinned,
        repair=repair,  # counted by the repair budget (worker/adapters/sql/repair.py)
    )
    session.add(revision)
    session.flush()
    _insert_rows(session, revision.script_revision_id, script, file_hashes)
    if not row.pinned:
        row.current_revision_id = revision.script_revision_id
        live_version = version
    session.flush()
    return Published(row.script_id, revision.script_revision_id, version, row.pinned, live_version)


class RunPurged(PermanentError):
    """The run this revision was generated from was purged meanwhile."""


def blob_watermark(session: Session) -> int:
    """Read before uploading a revision's blobs: every blob deletion up to this id was done
    before the uploads began, so only later ones can have removed an uploaded blob."""
    d = m.BlobDeletion
    pending = session.scalar(select(func.min(d.deletion_id)).where(d.done_at.is_(None)))
    if pending is not None:
        return int(pending) - 1
    return int(session.scalar(select(func.max(d.deletion_id))) or 0)


def lock_blobs(session: Session, *, exclusive: bool) -> None:
    """Hold the blob lock until commit: shared to publish, exclusive to choose what to delete."""
    if session.get_bind().dialect.name != "postgresql":
        return
    lock = func.pg_advisory_xact_lock if exclusive else func.pg_advisory_xact_lock_shared
    session.execute(select(lock(BLOB_LOCK_KEY)))


def _check_blobs(session: Session, shas: set[str], since: int) -> None:
    d = m.BlobDeletion
    rows = session.execute(
        select(d.sha256, d.done_at).where(d.deletion_id > since, d.sha256.in_(sorted(shas)))
    ).all()
    if any(done is None for _, done in rows):
        raise BlobsBeingDeleted(
            f"a purge is deleting {len({sha for sha, _ in rows})} blob(s) this revision uses"
        )
    if rows:
        raise StaleBlobs(f"a purge deleted {len({sha for sha, _ in rows})} blob(s) meanwhile")


def _version_of(session: Session, revision_id: int | None) -> int | None:
    if revision_id is None:
        return None
    return session.scalar(
        select(m.ScriptRevision.version).where(m.ScriptRevision.script_revision_id == revision_id)
    )


def _equal_revision(session: Session, row: m.Script, script: GeneratedScript) -> int | None:
    """The version of the live revision, or (pinned) of a candidate, whose content and
    entries equal the new one's: then nothing is written."""
    r = m.ScriptRevision
    mine = r.script_revision_id == row.current_revision_id
    candidates = (r.script_id == row.script_id) & r.candidate.is_(True)
    found = session.execute(
        select(r.script_revision_id, r.version)
        .where(mine | candidates if row.pinned else mine)
        .where(r.content_sha256 == script.content_sha256)
        .order_by(r.version.desc())
    ).all()
    for revision_id, version in found:
        if _same_entries(session, revision_id, script):
            return int(version)
    return None


def _insert_rows(
    session: Session, rid: int, script: GeneratedScript, file_hashes: Mapping[str, str]
) -> None:
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
                input_fields=column(b.input_fields, b.inputs),
                path=b.path,
            )
            for b in script.blocks.values()
        ],
    )


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
