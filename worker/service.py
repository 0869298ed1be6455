"""The two use cases: ingest(event) and generate(run_id), composed from the parts."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from worker import cache
from worker.clock import utcnow
from worker.codegen import CarriedBlock, GeneratedScript, generate_script
from worker.decision import DEFAULT_REPAIRS_PER_DAY, Decision, decide
from worker.definition import render_cache_key
from worker.errors import PermanentError, TransientError
from worker.events import BlockCompleted, RunFinished, RunStarted
from worker.recording import load_run, record_event
from worker.repair import repair_budget
from worker.run import RunRecord
from worker.store import BlobStore

Event = RunStarted | BlockCompleted | RunFinished
Fence = Callable[[Session], None]
MAX_PUBLISH_ATTEMPTS = 10  # re-decisions when other writers publish first


@dataclass(frozen=True)
class GenerateResult:
    workflow_run_id: str
    regenerated: bool
    reason: str
    script_id: int | None = None
    version: int | None = None  # the live revision's version after this call
    labels: tuple[str, ...] = ()  # labels whose entries were generated anew
    cache_key: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "workflow_run_id": self.workflow_run_id, "regenerated": self.regenerated,
            "reason": self.reason, "script_id": self.script_id, "version": self.version,
            "labels": list(self.labels), "cache_key": self.cache_key,
        }


def ingest(sessions: sessionmaker[Session], events: Iterable[Event]) -> list[str]:
    """Record events, one transaction each; returns the runs touched, in first-seen order."""
    touched: dict[str, None] = {}
    for event in events:
        with sessions.begin() as session:
            touched[record_event(session, event)] = None
    return list(touched)


def generate(
    sessions: sessionmaker[Session], store: BlobStore, workflow_run_id: str,
    *, fence: Fence | None = None, repairs_per_day: int = DEFAULT_REPAIRS_PER_DAY,
) -> GenerateResult:
    """Decide for one run and, if it taught something new, publish a revision.

    Files are uploaded before the transaction; the revision, its rows, the pointer flip and
    the caller's fence (the debounce compare-and-clear) commit together. When another writer
    published first, the decision is made again against its result.
    """
    for _ in range(MAX_PUBLISH_ATTEMPTS):
        with sessions() as session:
            run = load_run(session, workflow_run_id)
            if run is None:
                raise PermanentError(f"run {workflow_run_id}: no event of this run was recorded")
            key = render_cache_key(run.definition, run.parameters)
            live = cache.live_revision(session, run.workflow_permanent_id, key)
            budget = repair_budget(session, None if live is None else live.script_id,
                                   utcnow(), repairs_per_day)
        decision = decide(run, None if live is None else live.entries, repairs=budget)
        if not decision.regenerate:
            with sessions.begin() as session:
                if fence is not None:
                    fence(session)
            return _unchanged(run, key, live, decision.reason)
        carried = _carried(store, live, decision)
        # An entry whose code cannot be read is not carried: regenerate it if this run can.
        fresh = decision.generate | (decision.executed & (decision.carry_forward - carried.keys()))
        script = generate_script(run, fresh, carried)
        hashes = {path: store.put(data) for path, data in script.files.items()}
        try:
            with sessions.begin() as session:
                published = cache.publish(
                    session, wpid=run.workflow_permanent_id, cache_key_value=key,
                    expected_revision_id=None if live is None else live.revision_id,
                    script=script, workflow_version=run.workflow_version,
                    source_run_id=run.workflow_run_id, file_hashes=hashes, now=utcnow(),
                    repair=decision.is_repair,
                )
                if fence is not None:
                    fence(session)
        except cache.StaleRevision:
            continue
        return _published(run, key, live, decision, script, published)
    raise TransientError(
        f"run {workflow_run_id}: the live revision kept moving, {MAX_PUBLISH_ATTEMPTS} attempts"
    )


def _carried(
    store: BlobStore, live: cache.LiveRevision | None, decision: Decision
) -> dict[str, CarriedBlock]:
    if live is None:
        return {}
    carried = {}
    for label in sorted(decision.carry_forward):
        path = live.paths.get(label)
        if path is None or path not in live.files:
            continue
        code = store.get(live.files[path]).decode("utf-8")
        carried[label] = CarriedBlock(entry=live.entries[label], code=code)
    return carried


def _unchanged(
    run: RunRecord, key: str, live: cache.LiveRevision | None, reason: str
) -> GenerateResult:
    return GenerateResult(
        workflow_run_id=run.workflow_run_id, regenerated=False, reason=reason,
        script_id=None if live is None else live.script_id,
        version=None if live is None else live.version, cache_key=key,
    )


def _published(
    run: RunRecord, key: str, live: cache.LiveRevision | None, decision: Decision,
    script: GeneratedScript, published: cache.Published,
) -> GenerateResult:
    if published.revision_id is None:
        return GenerateResult(
            workflow_run_id=run.workflow_run_id, regenerated=False,
            reason="the new revision's content equals the live one's: nothing written",
            script_id=published.script_id, version=None if live is None else live.version,
            cache_key=key,
        )
    return GenerateResult(
        workflow_run_id=run.workflow_run_id, regenerated=True, reason=decision.reason,
        script_id=published.script_id, version=published.version,
        labels=tuple(sorted(decision.generate)), cache_key=key, skipped=script.skipped,
    )
