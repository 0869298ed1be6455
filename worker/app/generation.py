"""The generation use case: a due run becomes a published revision (or stays as it is).

`generate_due` is what the worker runs for one run: claim its debounce record with a lease,
load the run, decide, generate, upload, then ONE transaction publishes the revision and
compare-and-clears the record, fenced by the lease token. `generate_now` is the same without
the debounce record, for the CLI (`ingest --generate`, `render`, `demo --local`).
Failures are decided by `worker.app.retry.after_failure` (pure) and applied here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from worker.adapters.clock import Clock, utcnow
from worker.adapters.sql import cache, debounce
from worker.adapters.sql.lease import Lease
from worker.adapters.sql.recording import load_run
from worker.adapters.sql.repair import note_held, repair_budget
from worker.adapters.store import BlobNotFound, BlobStore
from worker.app import deadletter, retry
from worker.domain.codegen import CarriedBlock, GeneratedScript, generate_script
from worker.domain.decision import DEFAULT_REPAIRS_PER_DAY, Decision, decide
from worker.domain.definition import render_cache_key
from worker.domain.errors import GaveUp, PermanentError, TransientError
from worker.domain.run import RunRecord

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
    candidate: int | None = None  # the script is pinned: this run's revision, not live

    def as_json(self) -> dict[str, Any]:
        return {
            "workflow_run_id": self.workflow_run_id,
            "regenerated": self.regenerated,
            "reason": self.reason,
            "script_id": self.script_id,
            "version": self.version,
            "labels": list(self.labels),
            "cache_key": self.cache_key,
            "candidate": self.candidate,
        }


@dataclass(frozen=True)
class Outcome:
    """What one generate task did. `rearm_at` asks for another wake-up at that time."""

    result: str
    rearm_at: datetime | None = None
    generation: GenerateResult | None = None
    level: str = "info"  # of the task's outcome line: "warning" when it will be retried


def generate_due(
    sessions: sessionmaker[Session], store: BlobStore, run_id: str, settings: Settings, clock: Clock
) -> Outcome:
    """Claim the run's due record, generate, publish and compare-and-clear in one transaction.

    A permanent or unexpected failure clears the record and is raised (the task dead-letters
    the request); a transient one gives the lease back, due after a backoff."""
    with sessions.begin() as session:
        held = debounce.claim(session, run_id, clock(), lease_s=settings.lease_s)
    if isinstance(held, debounce.Idle):
        return Outcome(held.reason)
    if isinstance(held, debounce.NotDue):
        return Outcome("not due yet", rearm_at=held.due_at)
    if retry.exhausted(held.attempts, settings):  # earlier attempts died with their worker
        with sessions() as session:
            cause, trace = deadletter.last_failure(session, run_id)
        _give_up(sessions, run_id, held, clock)
        raise GaveUp(f"run {run_id}: gave up after {held.attempts - 1} attempts", cause, trace)
    lease = Lease(
        sessions,
        run_id,
        held,
        lease_s=settings.lease_s,
        heartbeat_s=settings.heartbeat_s,
        clock=clock,
    )
    try:
        with lease:  # renewed in the background until the commit
            result, due_again = _generate(
                sessions, store, run_id, clock, lease, settings.repairs_per_day
            )
    except Exception as exc:
        return _after_failure(sessions, run_id, held, settings, clock, exc)
    return Outcome(
        "generated" if result.regenerated else "unchanged", rearm_at=due_again, generation=result
    )


def generate_now(
    sessions: sessionmaker[Session],
    store: BlobStore,
    run_id: str,
    clock: Clock = utcnow,
    *,
    repairs_per_day: int = DEFAULT_REPAIRS_PER_DAY,
) -> GenerateResult:
    """Decide for one run and publish a revision if it taught something new, at once and
    without the debounce record (the CLI's in-process generation)."""
    return _generate(sessions, store, run_id, clock, None, repairs_per_day)[0]


def _generate(
    sessions: sessionmaker[Session],
    store: BlobStore,
    run_id: str,
    clock: Clock,
    lease: Lease | None,
    repairs_per_day: int = DEFAULT_REPAIRS_PER_DAY,
) -> tuple[GenerateResult, datetime | None]:
    """Load, decide, generate, upload, then publish + compare-and-clear in one transaction.

    Returns the result and, if events arrived meanwhile, when the run is due again. Files are
    uploaded before the transaction; when another writer published first, the decision is
    made again against its result. A lost lease stops the work before the upload and before
    the commit."""
    for _ in range(MAX_PUBLISH_ATTEMPTS):
        with sessions.begin() as session:
            run = load_run(session, run_id)
            if run is None:
                raise PermanentError(f"run {run_id}: no event of this run was recorded")
            key = render_cache_key(run.definition, run.parameters)
            live = cache.live_revision(session, run.workflow_permanent_id, key)
            blobs_since = cache.blob_watermark(session)
            script_id = None if live is None else live.script_id
            decision = decide(
                run,
                None if live is None else live.entries,
                repairs=repair_budget(session, script_id, clock(), repairs_per_day),
            )
            if decision.held and script_id is not None:
                note_held(session, script_id, run.workflow_run_id, decision.held, clock())
            if not decision.regenerate:  # nothing to write: clear the record in this one
                due_again = None if lease is None else lease.complete(session)
                return _unchanged(run, key, live, decision.reason), due_again
        try:
            script = _script(store, run, live, decision)
        except BlobNotFound:
            if _still_live(sessions, run, key, live):
                raise
            continue  # the live revision was purged or replaced meanwhile: decide again
        if lease is not None:
            lease.check()
        hashes = {path: store.put(data) for path, data in script.files.items()}
        if lease is not None:
            lease.check()
        try:
            with sessions.begin() as session:
                published = cache.publish(
                    session,
                    wpid=run.workflow_permanent_id,
                    cache_key_value=key,
                    expected_revision_id=None if live is None else live.revision_id,
                    script=script,
                    workflow_version=run.workflow_version,
                    source_run_id=run.workflow_run_id,
                    file_hashes=hashes,
                    now=clock(),
                    blobs_since=blobs_since,
                    repair=decision.is_repair,
                )
                due_again = None if lease is None else lease.complete(session)
        except cache.StaleRevision:
            continue
        return _published(run, key, live, decision, script, published), due_again
    raise TransientError(
        f"run {run_id}: the live revision kept moving, {MAX_PUBLISH_ATTEMPTS} attempts"
    )


def _still_live(
    sessions: sessionmaker[Session], run: RunRecord, key: str, live: cache.LiveRevision | None
) -> bool:
    with sessions() as session:
        now_live = cache.live_revision(session, run.workflow_permanent_id, key)
    return (None if now_live is None else now_live.revision_id) == (
        None if live is None else live.revision_id
    )


def _script(
    store: BlobStore, run: RunRecord, live: cache.LiveRevision | None, decision: Decision
) -> GeneratedScript:
    """The new revision's files: fresh code for what the decision names, the live
    revision's code carried forward for the rest."""
    carried = {}
    if live is not None:
        for label in sorted(decision.carry_forward):
            path = live.paths.get(label)
            if path is not None and path in live.files:
                code = store.get(live.files[path]).decode("utf-8")
                carried[label] = CarriedBlock(entry=live.entries[label], code=code)
    # An entry whose code cannot be read is not carried: regenerate it if this run can.
    fresh = decision.generate | (decision.executed & (decision.carry_forward - carried.keys()))
    return generate_script(run, fresh, carried)


def _after_failure(
    sessions: sessionmaker[Session],
    run_id: str,
    held: debounce.Claim,
    settings: Settings,
    clock: Clock,
    exc: Exception,
) -> Outcome:
    """Apply `retry.after_failure`: give the lease back due later, or clear the record and
    raise (the task dead-letters the request), or do nothing when the lease was lost."""
    waited_s = (clock() - held.first_pending_at).total_seconds()
    verdict = retry.after_failure(exc, attempts=held.attempts, waited_s=waited_s, settings=settings)
    if isinstance(verdict, retry.Drop):
        return Outcome(verdict.reason, level="warning")
    if isinstance(verdict, retry.GiveUp):
        _give_up(sessions, run_id, held, clock)
        if verdict.unexpected:
            raise exc  # its own type and traceback reach the log and the dead-letter entry
        raise PermanentError(f"run {run_id}: {verdict.reason}") from exc
    try:  # best effort when the database is the problem: the lease expires, the sweep retries
        with sessions.begin() as session:
            due_at: datetime | None = debounce.retry_later(
                session,
                run_id,
                held,
                clock(),
                delay_s=verdict.delay_s,
                count_attempt=verdict.counts,
            )
            deadletter.note_failure(session, run_id, exc)
    except Exception:
        due_at = None
    return Outcome(verdict.reason, rearm_at=due_at, level="warning")


def _give_up(
    sessions: sessionmaker[Session], run_id: str, held: debounce.Claim, clock: Clock
) -> None:
    with sessions.begin() as session:
        debounce.give_up(session, run_id, held, clock())


def due_runs(sessions: sessionmaker[Session], settings: Settings, clock: Clock) -> list[str]:
    """Due, unleased runs for the sweeper; a grace of one quiet period lets the regular
    wake-ups go first."""
    grace = timedelta(seconds=min(settings.quiet_s, settings.sweep_interval_s))
    with sessions() as session:
        return debounce.due_runs(session, clock() - grace)


def _unchanged(
    run: RunRecord, key: str, live: cache.LiveRevision | None, reason: str
) -> GenerateResult:
    return GenerateResult(
        workflow_run_id=run.workflow_run_id,
        regenerated=False,
        reason=reason,
        script_id=None if live is None else live.script_id,
        version=None if live is None else live.version,
        cache_key=key,
    )


def _published(
    run: RunRecord,
    key: str,
    live: cache.LiveRevision | None,
    decision: Decision,
    script: GeneratedScript,
    published: cache.Published,
) -> GenerateResult:
    if published.revision_id is None:
        same = "live" if published.same_as == published.live_version else "candidate"
        return GenerateResult(
            workflow_run_id=run.workflow_run_id,
            regenerated=False,
            reason=f"the new revision's content equals the {same} one's "
            f"(v{published.same_as}): nothing written",
            script_id=published.script_id,
            version=published.live_version,
            cache_key=key,
        )
    reason = decision.reason
    if published.candidate:
        reason += (
            f"; the script is pinned at v{published.live_version}: stored as "
            f"candidate v{published.version}"
        )
    return GenerateResult(
        workflow_run_id=run.workflow_run_id,
        regenerated=True,
        reason=reason,
        script_id=published.script_id,
        version=published.live_version,
        labels=tuple(sorted(decision.generate)),
        cache_key=key,
        skipped=script.skipped,
        candidate=published.version if published.candidate else None,
    )
