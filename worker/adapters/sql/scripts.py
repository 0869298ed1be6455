"""The read side: the run plan, revision history, a revision's files and the diff of two."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from worker.adapters.sql import cache
from worker.adapters.sql import models as m
from worker.adapters.store import BlobStore
from worker.domain.decision import plan
from worker.domain.definition import Definition, render_cache_key
from worker.domain.errors import PermanentError


def workflow_definition(session: Session, wpid: str, version: int | None) -> tuple[int, Definition]:
    if version is None:
        version = session.scalar(
            select(func.max(m.Workflow.version)).where(m.Workflow.workflow_permanent_id == wpid)
        )
        if version is None:
            raise PermanentError(f"workflow {wpid!r} has no recorded version")
    row = session.get(m.Workflow, (wpid, version))
    if row is None:
        raise PermanentError(f"workflow {wpid!r} has no recorded version {version}")
    return version, Definition.model_validate(row.definition)


def run_plan(
    session: Session, wpid: str, parameters: Mapping[str, Any], version: int | None = None
) -> dict[str, Any]:
    """What the platform asks before a run: code or agent, per block, and why."""
    workflow_version, definition = workflow_definition(session, wpid, version)
    key = render_cache_key(definition, parameters)
    script = cache.find_script(session, wpid, key)
    live = (
        None if script is None else cache.read_revision(session, script, script.current_revision_id)
    )
    result = plan(definition, None if live is None else live.entries)
    return {
        "workflow_permanent_id": wpid,
        "workflow_version": workflow_version,
        "cache_key": key,
        "script_id": None if live is None else live.script_id,
        "version": None if live is None else live.version,
        "pinned": script is not None and script.pinned,
        "candidates": [] if script is None else candidate_versions(session, script),
        **result.as_json(),
    }


def resolve_script(session: Session, wpid: str, cache_key: str | None) -> m.Script:
    """The workflow's script for a cache key; without one, its only script. The errors name
    the choices."""
    scripts = cache.scripts_of(session, wpid)
    if not scripts:
        raise unknown_workflow(session, wpid)
    keys = ", ".join(repr(s.cache_key_value) for s in scripts)
    if cache_key is not None:
        for script in scripts:
            if script.cache_key_value == cache_key:
                return script
        raise PermanentError(
            f"workflow {wpid!r} has no script for cache key {cache_key!r}; cache keys: {keys}"
        )
    if len(scripts) > 1:
        raise PermanentError(
            f"workflow {wpid!r} has several scripts; pass --cache-key, one of: {keys}"
        )
    return scripts[0]


MAX_NAMED_CHOICES = 20


def unknown_workflow(session: Session, wpid: str) -> PermanentError:
    """The error for a workflow without a script, naming (some of) those that have one."""
    known = list(
        session.scalars(
            select(m.Script.workflow_permanent_id)
            .distinct()
            .order_by(m.Script.workflow_permanent_id)
            .limit(MAX_NAMED_CHOICES + 1)
        )
    )
    if not known:
        return PermanentError(f"workflow {wpid!r} has no script yet; no workflow has one")
    more = ", ..." if len(known) > MAX_NAMED_CHOICES else ""
    names = ", ".join(repr(k) for k in known[:MAX_NAMED_CHOICES])
    return PermanentError(
        f"workflow {wpid!r} has no script yet; workflows with scripts: {names}{more}"
    )


def candidate_versions(session: Session, script: m.Script) -> list[int]:
    """Versions stored while the script was pinned and never made live since."""
    return list(
        session.scalars(
            select(m.ScriptRevision.version)
            .where(
                m.ScriptRevision.script_id == script.script_id, m.ScriptRevision.candidate.is_(True)
            )
            .order_by(m.ScriptRevision.version)
        )
    )


def select_revision(session: Session, script: m.Script, version: int | None) -> cache.LiveRevision:
    if version is not None:
        return cache.revision_by_version(session, script, version)
    live = cache.read_revision(session, script, script.current_revision_id)
    if live is None:
        raise PermanentError(f"script {script.script_id} has no live revision")
    return live


def history_rows(session: Session, script: m.Script) -> list[dict[str, Any]]:
    counts = dict(
        session.execute(
            select(m.ScriptBlock.script_revision_id, func.count())
            .join(
                m.ScriptRevision,
                m.ScriptRevision.script_revision_id == m.ScriptBlock.script_revision_id,
            )
            .where(
                m.ScriptRevision.script_id == script.script_id,
                m.ScriptBlock.run_signature.is_not(None),
            )
            .group_by(m.ScriptBlock.script_revision_id)
        ).all()
    )
    return [
        {
            "version": r.version,
            "live": r.script_revision_id == script.current_revision_id,
            "candidate": r.candidate,
            "pinned": script.pinned and r.script_revision_id == script.current_revision_id,
            "workflow_version": r.workflow_version,
            "source_workflow_run_id": r.source_workflow_run_id,
            "content_sha256": r.content_sha256,
            "created_at": r.created_at.isoformat(),
            "cached_blocks": counts.get(r.script_revision_id, 0),
        }
        for r in cache.history(session, script)
    ]


def read_files(store: BlobStore, revision: cache.LiveRevision) -> dict[str, bytes]:
    """A revision's files, read from the store and checked against their hashes."""
    return {path: store.get(sha) for path, sha in sorted(revision.files.items())}


def diff(old: Mapping[str, bytes], new: Mapping[str, bytes], old_name: str, new_name: str) -> str:
    out: list[str] = []
    for path in sorted(set(old) | set(new)):
        a = old.get(path, b"").decode("utf-8").splitlines(keepends=True)
        b = new.get(path, b"").decode("utf-8").splitlines(keepends=True)
        out.extend(difflib.unified_diff(a, b, f"{old_name}/{path}", f"{new_name}/{path}"))
    return "".join(out)


def inputs_rows(revision: cache.LiveRevision) -> list[dict[str, Any]]:
    """Per cached block of a revision: the keys its code reads, the values it enters bound
    to the run (parameters, loop value, outputs, credentials, one-time codes) and those it
    types as recorded (literals), from `script_blocks.input_fields`."""
    rows = []
    for label in sorted(revision.entries):
        entry = revision.entries[label]
        if entry.run_signature is None:
            continue  # the orchestrator
        inputs = [i.as_json() for i in entry.inputs]
        rows.append(
            {
                "label": label,
                "block_type": entry.block_type,
                "keys": list(entry.input_fields),
                "bindings": [i for i in inputs if not i["literal"]],
                "literals": [i for i in inputs if i["literal"]],
            }
        )
    return rows
