"""`script purge`: remove a workflow's scripts (and, on request, its recorded runs), then every
blob no remaining revision references.

Safe against a generation publishing at the same moment, in either order:
1. One transaction holds the blob lock exclusively (publishers hold it shared, so every
   publish in flight has committed and is seen), locks the script rows, deletes files,
   blocks, revisions and scripts, picks the blobs no remaining revision references and
   records them as pending `blob_deletions` with the audit row.
   A generation that publishes later for the same cache key finds its live revision gone
   (StaleRevision) and decides again; one that publishes first is purged with the rest.
2. The blobs are deleted from the store, no transaction open; each row is then marked done.
A publisher checks these rows for blobs it uploaded before they were deleted (see
cache.blob_watermark): it uploads them again, or waits while the deletion is pending.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from worker.adapters.clock import utcnow
from worker.adapters.sql import cache
from worker.adapters.sql import models as m
from worker.adapters.sql.scripts import resolve_script, unknown_workflow
from worker.adapters.store import BlobStore
from worker.app.revisions import Operator, Refused, record
from worker.domain.definition import Definition, render_cache_key
from worker.domain.errors import PermanentError

# A pending deletion this old was left by a purge that died: the next purge completes it.
# (Completing a live purge's deletion early would let a publisher re-upload the blob before
# that purge deletes it again.)
ABANDONED_AFTER = timedelta(hours=1)
# Tables holding a recorded run, keyed by workflow_run_id; workflow_runs goes last. The
# received event ids stay (they hold no recorded data): a redelivered event of a purged run
# is then still a duplicate, and cannot record the run again.
RUN_TABLES: tuple[Any, ...] = (m.Action, m.Task, m.WorkflowRunBlock, m.RunDebounce, m.DeadLetter)


@dataclass(frozen=True)
class Target:
    """What a purge removes: the scripts of these cache keys (all of them: `cache_keys`
    None), and the recorded runs of those keys when `runs`."""

    workflow_permanent_id: str
    cache_keys: tuple[str, ...] | None
    runs: bool


@dataclass(frozen=True)
class Preview:
    target: Target
    scripts: list[dict[str, Any]]  # script_id, cache_key, revisions, live_version
    files: int
    runs: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "workflow_permanent_id": self.target.workflow_permanent_id,
            "scripts": self.scripts,
            "files": self.files,
            "runs": len(self.runs),
        }


@dataclass
class Purged:
    workflow_permanent_id: str
    scripts: list[dict[str, Any]] = field(default_factory=list)
    revisions: int = 0
    files: int = 0
    runs: int = 0
    blobs_deleted: int = 0
    blobs_kept: int = 0  # still referenced by another script's revisions
    resumed: int = 0  # deletions left by an earlier purge that died, completed now
    audit_ids: list[int] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return dict(vars(self))


def target_for(
    sessions: sessionmaker[Session], wpid: str, cache_key: str | None, all_keys: bool, runs: bool
) -> Target:
    """Resolve the command line: one cache key, the only script, or every key."""
    if all_keys:
        return Target(wpid, None, runs)
    if cache_key is not None and runs:
        return Target(wpid, (cache_key,), runs)  # the key's runs may outlive its script
    with sessions() as session:
        script = resolve_script(session, wpid, cache_key)
    return Target(wpid, (script.cache_key_value,), runs)


def preview(sessions: sessionmaker[Session], target: Target) -> Preview:
    """What the purge would remove now (read in a short read-only transaction)."""
    with sessions() as session:
        scripts = _scripts(session, target, lock=False)
        revision_ids = _revision_ids(session, scripts)
        files = len(_file_shas(session, revision_ids, distinct=False))
        summary = [_summary(session, s) for s in scripts]
        run_ids = _run_ids(session, target) if target.runs else []
        if not scripts and not run_ids:
            raise _nothing(session, target)
    return Preview(target, summary, files, run_ids)


def purge(
    sessions: sessionmaker[Session],
    store: BlobStore,
    target: Target,
    operator: Operator,
    now: datetime | None = None,
) -> Purged:
    """Remove the target's rows in one transaction, then its unreferenced blobs."""
    now = now or utcnow()
    result, deletions = remove_rows(sessions, target, operator, now)
    leftover = [d for d in abandoned(sessions, now) if d not in deletions]
    delete_blobs(sessions, store, deletions + leftover)
    result.blobs_deleted, result.resumed = len(deletions), len(leftover)
    return result


def remove_rows(
    sessions: sessionmaker[Session], target: Target, operator: Operator, now: datetime
) -> tuple[Purged, list[tuple[int, str]]]:
    """Step 1: the rows, the audit and the pending blob deletions, in one transaction.
    Returns (deletion_id, sha256) of the blobs to delete."""
    result = Purged(target.workflow_permanent_id)
    with sessions.begin() as session:
        cache.lock_blobs(session, exclusive=True)
        scripts = _scripts(session, target, lock=True)
        revision_ids = _revision_ids(session, scripts)
        shas = set(_file_shas(session, revision_ids, distinct=True))
        result.scripts = [_summary(session, s) for s in scripts]
        result.revisions = len(revision_ids)
        result.files = len(_file_shas(session, revision_ids, distinct=False))
        run_ids = _run_ids(session, target) if target.runs else []
        if not scripts and not run_ids:
            raise _nothing(session, target)
        _delete_scripts(session, scripts, revision_ids)
        result.runs = _delete_runs(session, run_ids)
        doomed = sorted(shas - _still_referenced(session, shas))
        result.blobs_kept = len(shas) - len(doomed)
        audits = _audit(session, target, result, len(doomed), operator, now)
        result.audit_ids = [a.audit_id for a in audits]
        rows = [
            m.BlobDeletion(sha256=sha, audit_id=audits[0].audit_id, requested_at=now)
            for sha in doomed
        ]
        session.add_all(rows)
        session.flush()
        deletions = [(r.deletion_id, r.sha256) for r in rows]
    return result, deletions


def delete_blobs(
    sessions: sessionmaker[Session], store: BlobStore, deletions: Sequence[tuple[int, str]]
) -> None:
    """Step 2: delete each blob from the store, then mark its row done. No transaction is
    open while the store is called. If the store fails, the rest stay pending: publishes of
    those blobs wait, and a purge completes them after ABANDONED_AFTER."""
    for deletion_id, sha in deletions:
        store.delete(sha)
        with sessions.begin() as session:
            session.execute(
                update(m.BlobDeletion)
                .where(m.BlobDeletion.deletion_id == deletion_id)
                .values(done_at=utcnow())
            )


def abandoned(sessions: sessionmaker[Session], now: datetime) -> list[tuple[int, str]]:
    """Pending deletions of purges that died before finishing."""
    d = m.BlobDeletion
    with sessions() as session:
        return [
            (int(i), str(sha))
            for i, sha in session.execute(
                select(d.deletion_id, d.sha256)
                .where(d.done_at.is_(None), d.requested_at < now - ABANDONED_AFTER)
                .order_by(d.deletion_id)
            )
        ]


def _scripts(session: Session, target: Target, *, lock: bool) -> list[m.Script]:
    query = (
        select(m.Script)
        .where(m.Script.workflow_permanent_id == target.workflow_permanent_id)
        .order_by(m.Script.script_id)
    )
    if target.cache_keys is not None:
        query = query.where(m.Script.cache_key_value.in_(target.cache_keys))
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return list(session.scalars(query))


def _revision_ids(session: Session, scripts: Iterable[m.Script]) -> list[int]:
    ids = [s.script_id for s in scripts]
    return list(
        session.scalars(
            select(m.ScriptRevision.script_revision_id).where(m.ScriptRevision.script_id.in_(ids))
        )
    )


def _file_shas(session: Session, revision_ids: list[int], *, distinct: bool) -> list[str]:
    query = select(m.ScriptFile.sha256).where(m.ScriptFile.script_revision_id.in_(revision_ids))
    return list(session.scalars(query.distinct() if distinct else query))


def _still_referenced(session: Session, shas: set[str]) -> set[str]:
    return set(
        session.scalars(
            select(m.ScriptFile.sha256).distinct().where(m.ScriptFile.sha256.in_(sorted(shas)))
        )
    )


def _summary(session: Session, script: m.Script) -> dict[str, Any]:
    r = m.ScriptRevision
    versions = list(session.scalars(select(r.version).where(r.script_id == script.script_id)))
    live = session.scalar(
        select(r.version).where(r.script_revision_id == script.current_revision_id)
    )
    return {
        "script_id": script.script_id,
        "cache_key": script.cache_key_value,
        "revisions": len(versions),
        "live_version": live,
        "pinned": script.pinned,
    }


def _delete_scripts(session: Session, scripts: list[m.Script], revision_ids: list[int]) -> None:
    for table in (m.ScriptFile, m.ScriptBlock):
        session.execute(delete(table).where(table.script_revision_id.in_(revision_ids)))
    ids = [s.script_id for s in scripts]
    session.execute(delete(m.ScriptRevision).where(m.ScriptRevision.script_id.in_(ids)))
    session.execute(delete(m.Script).where(m.Script.script_id.in_(ids)))
    session.expunge_all()


def _run_ids(session: Session, target: Target) -> list[str]:
    """The workflow's recorded runs; with cache keys, those whose key renders to one."""
    wr = m.WorkflowRun
    rows = session.execute(
        select(wr.workflow_run_id, wr.workflow_version, wr.parameters)
        .where(wr.workflow_permanent_id == target.workflow_permanent_id)
        .order_by(wr.workflow_run_id)
    ).all()
    if target.cache_keys is None:
        return [run_id for run_id, _, _ in rows]
    definitions: dict[int, Definition] = {}
    chosen = []
    for run_id, version, parameters in rows:
        if version not in definitions:
            row = session.get(m.Workflow, (target.workflow_permanent_id, version))
            if row is None:
                continue
            definitions[version] = Definition.model_validate(row.definition)
        try:
            key = render_cache_key(definitions[version], parameters or {})
        except PermanentError:
            continue  # such a run never had a script
        if key in target.cache_keys:
            chosen.append(run_id)
    return chosen


def _delete_runs(session: Session, run_ids: list[str]) -> int:
    for table in (*RUN_TABLES, m.WorkflowRun):
        session.execute(delete(table).where(table.workflow_run_id.in_(run_ids)))
    return len(run_ids)


def _audit(
    session: Session, target: Target, result: Purged, blobs: int, operator: Operator, now: datetime
) -> list[m.ScriptAudit]:
    details = {
        "revisions": result.revisions,
        "files": result.files,
        "blobs": blobs,
        "runs": result.runs,
    }
    wpid = target.workflow_permanent_id
    if not result.scripts:  # runs only
        key = target.cache_keys[0] if target.cache_keys else None
        return [
            record(
                session,
                wpid=wpid,
                cache_key=key,
                script_id=None,
                action="purge",
                from_version=None,
                to_version=None,
                operator=operator,
                now=now,
                details=details,
            )
        ]
    return [
        record(
            session,
            wpid=wpid,
            cache_key=s["cache_key"],
            script_id=s["script_id"],
            action="purge",
            from_version=s["live_version"],
            to_version=None,
            operator=operator,
            now=now,
            details=details,
        )
        for s in result.scripts
    ]


def _nothing(session: Session, target: Target) -> PermanentError:
    wpid = target.workflow_permanent_id
    keys = ", ".join(repr(s.cache_key_value) for s in cache.scripts_of(session, wpid))
    if not keys:
        return unknown_workflow(session, wpid)
    return Refused(
        f"nothing to purge for {wpid!r} cache key "
        f"{', '.join(target.cache_keys or ())!r}; cache keys: {keys}"
    )
