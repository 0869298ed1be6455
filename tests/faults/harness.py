"""The fault campaign's harness: workloads, the fault-free oracle and the trial verdict.

Workloads: every workflow has K task blocks and K runs, and each run executes exactly one
distinct block (a disjoint label per run). Generated code depends only on what was recorded
for a block, so the final live revision of a workflow depends only on the *set* of labels
its runs executed, not on the order the worker finished the runs in, nor on how debouncing
split them into generations. And each run teaches exactly one label, so each run adds at
most one revision: a fault-free delivery makes exactly K revisions per workflow, and any
revision beyond the oracle's count is a duplicate.

The oracle ingests the same events into a fresh SQLite database in-process
(`worker.app.intake.record_only` + `worker.app.generation.generate_now`, run after run) with a
memory blob store.

Verdict per trial:
- lost: a run whose label is not executable in its workflow's final live revision (or that
  was dead-lettered);
- partial: a revision without its main.py / block files / `script_blocks` rows, or a file
  that does not read back from the blob store with its hash, or whose content hash differs;
- duplicate: repeated or missing version numbers, two consecutive revisions with the same
  content, or more revisions than the oracle made.
"""

from __future__ import annotations

import itertools
import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.factory import RunBuilder, definition, task_block
from tests.keys import SEAL_KEY
from tests.support.stack import Stack
from worker.adapters.sql import models as m
from worker.adapters.sql.engine import make_engine, make_sessionmaker
from worker.adapters.sql.migrate import upgrade
from worker.adapters.store import BlobStore, open_store
from worker.app.deadletter import REPLAYABLE
from worker.app.generation import generate_now
from worker.app.intake import record_only
from worker.domain.codegen.script import content_sha256
from worker.domain.definition import START_BLOCK
from worker.domain.events import parse_event

RECOVERY_TIMEOUT_S = 120.0


def trial_count(ci: int) -> int:
    """CI's bounded count, or SCRIPTCACHE_FAULT_TRIALS for an extended campaign."""
    raw = os.environ.get("SCRIPTCACHE_FAULT_TRIALS")
    return int(raw) if raw else ci


def seeded(name: str, capsys: pytest.CaptureFixture[str]) -> random.Random:
    """random.Random(seed); the seed is printed so a failing campaign can be replayed with
    SCRIPTCACHE_FAULT_SEED."""
    raw = os.environ.get("SCRIPTCACHE_FAULT_SEED")
    seed = int(raw) if raw else random.SystemRandom().randrange(2**32)
    with capsys.disabled():
        print(f"\n[{name}] seed={seed}", flush=True)
    return random.Random(seed)


# --- workloads -------------------------------------------------------------------------------


@dataclass
class Workload:
    runs: dict[str, list[dict[str, Any]]]  # run id -> its events, in producer order
    label_of: dict[str, tuple[str, str]]  # run id -> (workflow id, the label it executed)

    @property
    def wpids(self) -> list[str]:
        return sorted({wpid for wpid, _ in self.label_of.values()})

    def interleaved(self) -> list[dict[str, Any]]:
        """The runs' events round-robin, as concurrent runs would emit them."""
        lists = list(self.runs.values())
        out: list[dict[str, Any]] = []
        for i in range(max(len(x) for x in lists)):
            out += [x[i] for x in lists if i < len(x)]
        return out


def disjoint_workload(
    prefix: str, rng: random.Random, *, workflows: int = 3, labels: int = 3
) -> Workload:
    runs: dict[str, list[dict[str, Any]]] = {}
    label_of: dict[str, tuple[str, str]] = {}
    for w in range(workflows):
        wpid = f"wf_{prefix}_{w}"
        names = [f"{prefix}_w{w}_step_{i}" for i in range(labels)]
        defn = definition([task_block(n) for n in names])
        for i, label in enumerate(names):
            run_id = f"wr_{prefix}_{w}_{i}"
            builder = RunBuilder(run_id, wpid, defn)
            builder.block(label, actions=rng.randint(1, 4))
            runs[run_id] = builder.finish()
            label_of[run_id] = (wpid, label)
    return Workload(runs, label_of)


# --- the oracle ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    content_sha256: str
    revisions: int
    labels: frozenset[str]


def oracle(workload: Workload, tmp: Path) -> dict[str, Reference]:
    """A fault-free delivery of the same events, in-process, one run after the other."""
    tmp.mkdir(parents=True, exist_ok=True)
    engine = make_engine(f"sqlite:///{tmp / 'oracle.db'}")
    try:
        upgrade(engine)
        sessions, store = make_sessionmaker(engine), open_store("memory://")
        for run_id, events in workload.runs.items():
            record_only(sessions, [parse_event(e) for e in events], SEAL_KEY)
            generate_now(sessions, store, run_id)
        with sessions() as session:
            return {wpid: _reference(session, wpid) for wpid in workload.wpids}
    finally:
        engine.dispose()


def _reference(session: Session, wpid: str) -> Reference:
    script = session.scalars(select(m.Script).where(m.Script.workflow_permanent_id == wpid)).one()
    revision = session.get(m.ScriptRevision, script.current_revision_id)
    assert revision is not None
    count = len(
        session.scalars(
            select(m.ScriptRevision).where(m.ScriptRevision.script_id == script.script_id)
        ).all()
    )
    labels = session.scalars(
        select(m.ScriptBlock.label).where(
            m.ScriptBlock.script_revision_id == revision.script_revision_id,
            m.ScriptBlock.run_signature.is_not(None),
        )
    ).all()
    return Reference(revision.content_sha256, count, frozenset(labels))


# --- the verdict -----------------------------------------------------------------------------


@dataclass
class Verdict:
    lost: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    duplicate: list[str] = field(default_factory=list)
    mismatch: list[str] = field(default_factory=list)  # final content differs from the oracle
    pending: list[str] = field(default_factory=list)  # debounce records still due or leased
    # Dead letters an operator could not replay (`dlq replay --all` would fail on them).
    unreplayable: list[str] = field(default_factory=list)

    @property
    def recovered(self) -> bool:
        return not (
            self.lost
            or self.partial
            or self.duplicate
            or self.mismatch
            or self.pending
            or self.unreplayable
        )

    def describe(self) -> str:
        parts = [f"{k}={v}" for k, v in vars(self).items() if v]
        return "; ".join(parts) or "recovered"


def verdict(
    sessions: sessionmaker[Session],
    store: BlobStore,
    workload: Workload,
    expected: dict[str, Reference],
    *,
    read_blobs: bool = True,
) -> Verdict:
    out = Verdict()
    with sessions() as session:
        for wpid in workload.wpids:
            _check_script(session, store, wpid, expected[wpid], out, read_blobs)
        live = _live_labels(session, workload.wpids)
        dead = set(session.scalars(select(m.DeadLetter.workflow_run_id)))
        out.unreplayable += [
            f"{e.task_name}: {e.error[:200]}"
            for e in session.scalars(
                select(m.DeadLetter).where(m.DeadLetter.task_name.not_in(REPLAYABLE))
            )
        ]
        for run_id, (wpid, label) in workload.label_of.items():
            if label not in live.get(wpid, set()) or run_id in dead:
                out.lost.append(f"{run_id} ({_state(session, run_id)})")
        for row in session.scalars(
            select(m.RunDebounce).where(m.RunDebounce.workflow_run_id.in_(list(workload.runs)))
        ):
            if row.due_at is not None or row.lease_token is not None:
                out.pending.append(row.workflow_run_id)
    return out


def _state(session: Session, run_id: str) -> str:
    """What the database knows of a run, to explain a loss."""
    run = session.get(m.WorkflowRun, run_id)
    blocks = session.scalars(
        select(m.WorkflowRunBlock.label).where(m.WorkflowRunBlock.workflow_run_id == run_id)
    ).all()
    row = session.get(m.RunDebounce, run_id)
    dead = session.scalars(
        select(m.DeadLetter.error).where(m.DeadLetter.workflow_run_id == run_id)
    ).all()
    debounce = (
        "none"
        if row is None
        else (
            f"seq={row.seq} processed={row.processed_seq} due={row.due_at} "
            f"lease={row.lease_until} attempts={row.attempts} generations={row.generations}"
        )
    )
    return (
        f"run={'none' if run is None else run.status} blocks={list(blocks)} "
        f"debounce: {debounce} dead_letters={list(dead)}"
    )


def _live_labels(session: Session, wpids: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    rows = session.execute(
        select(m.Script.workflow_permanent_id, m.ScriptBlock.label)
        .join(m.ScriptBlock, m.ScriptBlock.script_revision_id == m.Script.current_revision_id)
        .where(m.Script.workflow_permanent_id.in_(wpids), m.ScriptBlock.run_signature.is_not(None))
    )
    for wpid, label in rows:
        out[wpid].add(label)
    return out


def _check_script(
    session: Session, store: BlobStore, wpid: str, ref: Reference, out: Verdict, read_blobs: bool
) -> None:
    scripts = session.scalars(select(m.Script).where(m.Script.workflow_permanent_id == wpid)).all()
    if len(scripts) != 1:
        out.mismatch.append(f"{wpid}: {len(scripts)} scripts")
        return
    script = scripts[0]
    revisions = session.scalars(
        select(m.ScriptRevision)
        .where(m.ScriptRevision.script_id == script.script_id)
        .order_by(m.ScriptRevision.version)
    ).all()
    versions = [r.version for r in revisions]
    if versions != list(range(1, len(versions) + 1)):
        out.duplicate.append(f"{wpid}: versions {versions}")
    if len(revisions) > ref.revisions:
        out.duplicate.append(f"{wpid}: {len(revisions)} revisions, the oracle made {ref.revisions}")
    for before, after in itertools.pairwise(revisions):
        if before.content_sha256 == after.content_sha256:
            out.duplicate.append(f"{wpid}: versions {before.version} and {after.version} equal")
    for revision in revisions:
        problem = _partial(session, store, revision, read_blobs)
        if problem:
            out.partial.append(f"{wpid} v{revision.version}: {problem}")
    live = next((r for r in revisions if r.script_revision_id == script.current_revision_id), None)
    if live is None or live.content_sha256 != ref.content_sha256:
        out.mismatch.append(f"{wpid}: live content differs from the oracle's")


def _partial(
    session: Session, store: BlobStore, revision: m.ScriptRevision, read_blobs: bool
) -> str | None:
    rid = revision.script_revision_id
    files = {
        f.path: f
        for f in session.scalars(select(m.ScriptFile).where(m.ScriptFile.script_revision_id == rid))
    }
    blocks = session.scalars(
        select(m.ScriptBlock).where(m.ScriptBlock.script_revision_id == rid)
    ).all()
    if "main.py" not in files:
        return "no main.py row"
    if START_BLOCK not in {b.label for b in blocks}:
        return "no __start_block__ row"
    if not any(b.run_signature for b in blocks):
        return "no cached block rows"
    for b in blocks:
        if b.path is not None and b.path not in files:
            return f"block {b.label!r}: its file {b.path} has no row"
    if not read_blobs:
        return None
    data: dict[str, bytes] = {}
    for path, row in files.items():
        try:
            data[path] = store.get(row.sha256)
        except Exception as exc:
            return f"{path} does not read back: {type(exc).__name__}: {exc}"
        if len(data[path]) != row.size_bytes:
            return f"{path}: {len(data[path])} bytes, the row says {row.size_bytes}"
    if content_sha256(data) != revision.content_sha256:
        return "files do not hash to the revision's content_sha256"
    return None


# --- running trials --------------------------------------------------------------------------


@dataclass
class Tally:
    scenario: str
    trials: int = 0
    recovered: int = 0
    lost: int = 0
    partial: int = 0
    duplicate: int = 0
    problems: list[str] = field(default_factory=list)

    def add(self, trial: int, v: Verdict) -> None:
        self.trials += 1
        self.recovered += v.recovered
        self.lost += len(v.lost)
        self.partial += len(v.partial)
        self.duplicate += len(v.duplicate)
        if not v.recovered:
            self.problems.append(f"trial {trial}: {v.describe()}")

    def line(self) -> str:
        return (
            f"{self.trials} trials, {self.recovered} recovered, {self.lost} lost, "
            f"{self.partial} partial, {self.duplicate} duplicate"
        )

    def report(self, capsys: pytest.CaptureFixture[str]) -> None:
        with capsys.disabled():
            print(f"[{self.scenario}] {self.line()}", flush=True)
        assert self.line() == (
            f"{self.trials} trials, {self.trials} recovered, 0 lost, 0 partial, 0 duplicate"
        ), "\n".join(self.problems)


def await_recovery(
    stack: Stack,
    store: BlobStore,
    workload: Workload,
    expected: dict[str, Reference],
    *,
    timeout_s: float = RECOVERY_TIMEOUT_S,
    linger_s: float = 2.5,
) -> Verdict:
    """Poll (without reading blobs) until the trial looks recovered, then wait a little
    longer than a quiet period for late duplicates and judge it fully."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if verdict(stack.sessions, store, workload, expected, read_blobs=False).recovered:
            break
        time.sleep(0.5)
    time.sleep(linger_s)
    return verdict(stack.sessions, store, workload, expected)
