"""Operators steer revisions (ARCHITECTURE.md §10): pin, unpin, promote, roll back, and the
audit trail of every such action.

Each action is one transaction that locks the script row (SELECT ... FOR UPDATE) as a
generation's publish does: a generation in flight then finds the live pointer moved, fails
its fence and decides again against the new live revision. The audit row commits with the
change it records; a refused action changes nothing and records nothing.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from worker.adapters.clock import utcnow
from worker.adapters.sql import models as m
from worker.adapters.sql.scripts import resolve_script, unknown_workflow
from worker.domain.errors import PermanentError


class Refused(PermanentError):
    """The operator action was refused: nothing changed."""


@dataclass(frozen=True)
class Operator:
    """Who acts (`--by`, default the OS user) and why (`--why`)."""

    by: str
    why: str | None = None


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no LOGNAME/USER and no passwd entry (some containers)
        return "unknown"


@dataclass(frozen=True)
class Moved:
    """What a pin, unpin, promote or rollback did."""

    action: str
    workflow_permanent_id: str
    cache_key: str
    script_id: int
    from_version: int | None
    to_version: int | None
    pinned: bool
    audit_id: int

    def as_json(self) -> dict[str, Any]:
        return dict(vars(self))


def pin(
    sessions: sessionmaker[Session],
    wpid: str,
    cache_key: str | None,
    version: int | None,
    operator: Operator,
    now: datetime | None = None,
) -> Moved:
    """Pin the live revision, or make revision `version` live and pin it."""
    with sessions.begin() as session:
        script = _locked(session, wpid, cache_key)
        live = _live(session, script)
        if version is None:
            if live is None:
                raise Refused(
                    f"script {script.script_id} has no live revision to pin; pass "
                    f"--version, one of: {versions_text(session, script)}"
                )
            target = live
        else:
            target = _revision(session, script, version)
        if script.pinned and target.version == _version(live):
            raise Refused(f"script {script.script_id} is already pinned at v{target.version}")
        _make_live(script, target)
        script.pinned = True
        return _record(session, script, "pin", live, target, operator, now)


def unpin(
    sessions: sessionmaker[Session],
    wpid: str,
    cache_key: str | None,
    operator: Operator,
    now: datetime | None = None,
) -> Moved:
    """Let generation move the live pointer again; candidates stay candidates."""
    with sessions.begin() as session:
        script = _locked(session, wpid, cache_key)
        if not script.pinned:
            raise Refused(f"script {script.script_id} is not pinned")
        script.pinned = False
        live = _live(session, script)
        return _record(session, script, "unpin", live, live, operator, now)


def promote(
    sessions: sessionmaker[Session],
    wpid: str,
    cache_key: str | None,
    version: int,
    operator: Operator,
    now: datetime | None = None,
) -> Moved:
    """Make revision `version` (a candidate or an older revision) live; a pin stays."""
    with sessions.begin() as session:
        script = _locked(session, wpid, cache_key)
        live = _live(session, script)
        target = _revision(session, script, version)
        if live is not None and target.script_revision_id == live.script_revision_id:
            raise Refused(f"v{version} is already live")
        _make_live(script, target)
        return _record(session, script, "promote", live, target, operator, now)


def rollback(
    sessions: sessionmaker[Session],
    wpid: str,
    cache_key: str | None,
    version: int,
    operator: Operator,
    now: datetime | None = None,
) -> Moved:
    """Make an older revision live again; the next generation carries forward from it."""
    with sessions.begin() as session:
        script = _locked(session, wpid, cache_key)
        live = _live(session, script)
        target = _revision(session, script, version)
        if live is None or target.version >= live.version:
            live_text = "none" if live is None else f"v{live.version}"
            raise Refused(
                f"rollback goes to a version older than the live one ({live_text}); use "
                f"promote for v{version}. Versions: {versions_text(session, script)}"
            )
        _make_live(script, target)
        return _record(session, script, "rollback", live, target, operator, now)


def audit_rows(
    sessions: sessionmaker[Session], wpid: str, cache_key: str | None
) -> list[dict[str, Any]]:
    """The operator actions on a workflow's scripts, oldest first (kept after a purge)."""
    a = m.ScriptAudit
    with sessions() as session:
        query = select(a).where(a.workflow_permanent_id == wpid).order_by(a.audit_id)
        if cache_key is not None:
            query = query.where(a.cache_key_value == cache_key)
        rows = list(session.scalars(query))
        if (
            not rows
            and session.scalar(
                select(m.Script.script_id).where(m.Script.workflow_permanent_id == wpid).limit(1)
            )
            is None
        ):
            raise unknown_workflow(session, wpid)
    return [
        {
            "audit_id": r.audit_id,
            "at": r.at.isoformat(),
            "by": r.actor,
            "action": r.action,
            "cache_key": r.cache_key_value,
            "script_id": r.script_id,
            "from_version": r.from_version,
            "to_version": r.to_version,
            "why": r.reason,
            "details": r.details,
        }
        for r in rows
    ]


def versions_text(session: Session, script: m.Script) -> str:
    """A script's versions for an error message: `1, 2 (live), 3 (candidate)`."""
    rows = session.execute(
        select(
            m.ScriptRevision.version,
            m.ScriptRevision.script_revision_id,
            m.ScriptRevision.candidate,
        )
        .where(m.ScriptRevision.script_id == script.script_id)
        .order_by(m.ScriptRevision.version)
    ).all()
    return (
        ", ".join(
            f"{v}{' (live)' if rid == script.current_revision_id else ''}"
            f"{' (candidate)' if candidate else ''}"
            for v, rid, candidate in rows
        )
        or "none"
    )


def record(
    session: Session,
    *,
    wpid: str,
    cache_key: str | None,
    script_id: int | None,
    action: str,
    from_version: int | None,
    to_version: int | None,
    operator: Operator,
    now: datetime,
    details: dict[str, Any] | None = None,
) -> m.ScriptAudit:
    """Add one audit row in the caller's transaction."""
    row = m.ScriptAudit(
        workflow_permanent_id=wpid,
        cache_key_value=cache_key,
        script_id=script_id,
        action=action,
        from_version=from_version,
        to_version=to_version,
        actor=operator.by,
        reason=operator.why,
        at=now,
        details=details,
    )
    session.add(row)
    session.flush()
    return row


def _locked(session: Session, wpid: str, cache_key: str | None) -> m.Script:
    found = resolve_script(session, wpid, cache_key)
    script = session.scalars(
        select(m.Script)
        .where(m.Script.script_id == found.script_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if script is None:
        raise Refused(f"script {found.script_id} of {wpid!r} was purged meanwhile")
    return script


def _live(session: Session, script: m.Script) -> m.ScriptRevision | None:
    if script.current_revision_id is None:
        return None
    return session.get(m.ScriptRevision, script.current_revision_id)


def _revision(session: Session, script: m.Script, version: int) -> m.ScriptRevision:
    row = session.scalars(
        select(m.ScriptRevision).where(
            m.ScriptRevision.script_id == script.script_id, m.ScriptRevision.version == version
        )
    ).one_or_none()
    if row is None:
        raise Refused(
            f"script {script.script_id} ({script.workflow_permanent_id!r}, cache key "
            f"{script.cache_key_value!r}) has no version {version}; versions: "
            f"{versions_text(session, script)}"
        )
    return row


def _make_live(script: m.Script, revision: m.ScriptRevision) -> None:
    script.current_revision_id = revision.script_revision_id
    revision.candidate = False  # a revision that has been live is no longer a candidate


def _version(revision: m.ScriptRevision | None) -> int | None:
    return None if revision is None else revision.version


def _record(
    session: Session,
    script: m.Script,
    action: str,
    before: m.ScriptRevision | None,
    after: m.ScriptRevision | None,
    operator: Operator,
    now: datetime | None,
) -> Moved:
    row = record(
        session,
        wpid=script.workflow_permanent_id,
        cache_key=script.cache_key_value,
        script_id=script.script_id,
        action=action,
        from_version=_version(before),
        to_version=_version(after),
        operator=operator,
        now=now or utcnow(),
    )
    return Moved(
        action,
        script.workflow_permanent_id,
        script.cache_key_value,
        script.script_id,
        _version(before),
        _version(after),
        script.pinned,
        row.audit_id,
    )
