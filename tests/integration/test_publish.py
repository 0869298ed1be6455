"""Publishing revisions (issue 4): one transaction, immutable blobs, concurrent writers.

Real PostgreSQL (a fresh migrated database per test) and, where the store matters, both
moto's S3 server over HTTP and a local directory.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from tests.factory import RunBuilder, definition, linear_run, task_block
from tests.keys import SEAL_KEY
from tests.support.services import free_port
from worker.adapters.clock import ManualClock
from worker.adapters.sql import cache, debounce, scripts
from worker.adapters.sql import models as m
from worker.adapters.store import BlobStore, open_store
from worker.app.generation import MAX_PUBLISH_ATTEMPTS, GenerateResult, generate_due, generate_now
from worker.app.intake import record_only
from worker.domain.decision import executable_labels
from worker.domain.definition import Definition
from worker.domain.errors import LeaseLost, TransientError
from worker.domain.events import parse_event
from worker.domain.window import Timing

Events = list[dict[str, Any]]


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    """The blob store under test: a local directory, or moto's S3 over HTTP."""
    if request.param == "s3":
        s3: BlobStore = request.getfixturevalue("s3_store")
        return s3
    return open_store(f"file://{tmp_path / 'blobs'}")


@pytest.fixture
def local_store(tmp_path: Path) -> BlobStore:
    return open_store(f"file://{tmp_path / 'blobs'}")


def record(sessions: sessionmaker[Session], *runs: Events) -> None:
    for events in runs:
        record_only(sessions, [parse_event(e) for e in events], SEAL_KEY)


def cache_rows(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """Every cache table's row count and every script's live pointer."""
    with sessions() as session:

        def count(model: type[m.Base]) -> int:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

        return {
            "scripts": count(m.Script),
            "revisions": count(m.ScriptRevision),
            "files": count(m.ScriptFile),
            "blocks": count(m.ScriptBlock),
            "live": sorted(session.scalars(select(m.Script.current_revision_id)).all(), key=str),
        }


def versions(sessions: sessionmaker[Session], wpid: str) -> list[int]:
    with sessions() as session:
        return list(
            session.scalars(
                select(m.ScriptRevision.version)
                .join(m.Script)
                .where(m.Script.workflow_permanent_id == wpid)
                .order_by(m.ScriptRevision.version)
            )
        )


def live_of(sessions: sessionmaker[Session], wpid: str) -> cache.LiveRevision:
    with sessions() as session:
        script = scripts.resolve_script(session, wpid, None)
        return scripts.select_revision(session, script, None)


def executable(sessions: sessionmaker[Session], wpid: str) -> frozenset[str]:
    """Labels with an executable entry in the live revision, judged by the latest version."""
    with sessions() as session:
        _, defn = scripts.workflow_definition(session, wpid, None)
    return executable_labels(defn, live_of(sessions, wpid).entries)


class FailingPuts:
    """A blob store whose put fails with TransientError after `allowed` successful puts."""

    def __init__(self, inner: BlobStore, allowed: int) -> None:
        self.inner, self.allowed, self.puts = inner, allowed, 0

    def put(self, data: bytes) -> str:
        if self.puts >= self.allowed:
            raise TransientError("injected: the store went away during the upload")
        self.puts += 1
        return self.inner.put(data)

    def get(self, sha256: str) -> bytes:
        return self.inner.get(sha256)

    def exists(self, sha256: str) -> bool:
        return self.inner.exists(sha256)

    def describe(self) -> str:
        return f"failing({self.inner.describe()})"


class Crash(Exception):
    """Stands for a worker dying between the uploads and the commit."""


@contextmanager
def crash_before_commit(
    sessions: sessionmaker[Session], raised: Exception, seen_inside: list[int] | None = None
) -> Iterator[None]:
    """Raise `raised` just before the commit of a transaction that wrote a revision (a
    SQLAlchemy `before_commit` listener: the transaction's writes are flushed, not committed)."""

    def after_flush(session: Session, _context: Any) -> None:
        if any(isinstance(obj, m.ScriptRevision) for obj in session.new):
            session.info["wrote_a_revision"] = True

    def before_commit(session: Session) -> None:
        if session.info.pop("wrote_a_revision", False):
            if seen_inside is not None:
                count = session.scalar(select(func.count(m.ScriptRevision.version)))
                seen_inside.append(int(count or 0))
            raise raised

    event.listen(sessions, "after_flush", after_flush)
    event.listen(sessions, "before_commit", before_commit)
    try:
        yield
    finally:
        event.remove(sessions, "before_commit", before_commit)
        event.remove(sessions, "after_flush", after_flush)


LABELS = ["sign_in", "search", "open_order", "download", "confirm", "log_out"]


def stopping_early(run_id: str, wpid: str, labels: list[str], count: int) -> Events:
    """A run of a linear workflow that stopped after its first `count` blocks."""
    return linear_run(run_id, wpid, labels, executed=labels[:count])


# --- atomicity -------------------------------------------------------------------------------


def test_a_crash_after_the_uploads_leaves_no_revision_and_a_retry_publishes_once(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(
        pg_sessions,
        stopping_early("wr_1", "wf", LABELS[:3], 1),
        stopping_early("wr_2", "wf", LABELS[:3], 2),
    )
    first = generate_now(pg_sessions, store, "wr_1")
    assert (first.regenerated, first.version) == (True, 1)
    before = cache_rows(pg_sessions)
    seen_inside: list[int] = []

    with pytest.raises(Crash), crash_before_commit(pg_sessions, Crash(), seen_inside):
        generate_now(pg_sessions, store, "wr_2")

    assert seen_inside == [2]
    assert cache_rows(pg_sessions) == before
    assert live_of(pg_sessions, "wf").version == 1
    retry = generate_now(pg_sessions, store, "wr_2")
    assert (retry.regenerated, retry.version, retry.labels) == (True, 2, ("search",))
    assert versions(pg_sessions, "wf") == [1, 2]
    after = cache_rows(pg_sessions)
    assert after["revisions"] == 2 and after["scripts"] == 1
    assert executable(pg_sessions, "wf") == {"sign_in", "search"}


def test_a_crash_before_the_first_revision_leaves_not_even_a_script_row(
    pg_sessions: sessionmaker[Session],
    local_store: BlobStore,
) -> None:
    record(pg_sessions, linear_run("wr_1", "wf", LABELS[:2]))

    with pytest.raises(Crash), crash_before_commit(pg_sessions, Crash()):
        generate_now(pg_sessions, local_store, "wr_1")

    assert cache_rows(pg_sessions) == {
        "scripts": 0,
        "revisions": 0,
        "files": 0,
        "blocks": 0,
        "live": [],
    }
    assert generate_now(pg_sessions, local_store, "wr_1").version == 1
    assert versions(pg_sessions, "wf") == [1]


@pytest.mark.parametrize("allowed_puts", [0, 1, 2])
def test_a_store_failure_during_the_upload_writes_no_rows_and_a_retry_publishes_once(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
    allowed_puts: int,
) -> None:
    record(pg_sessions, linear_run("wr_1", "wf", LABELS[:3]))
    failing = FailingPuts(store, allowed_puts)

    with pytest.raises(TransientError, match="injected"):
        generate_now(pg_sessions, failing, "wr_1")

    assert failing.puts == allowed_puts
    assert cache_rows(pg_sessions) == {
        "scripts": 0,
        "revisions": 0,
        "files": 0,
        "blocks": 0,
        "live": [],
    }
    result = generate_now(pg_sessions, store, "wr_1")
    assert (result.regenerated, result.version) == (True, 1)
    assert versions(pg_sessions, "wf") == [1]
    assert executable(pg_sessions, "wf") == set(LABELS[:3])


def test_a_store_failure_on_a_later_revision_keeps_the_live_one(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(
        pg_sessions,
        stopping_early("wr_1", "wf", LABELS, 2),
        stopping_early("wr_2", "wf", LABELS, 4),
    )
    generate_now(pg_sessions, store, "wr_1")
    before = cache_rows(pg_sessions)

    with pytest.raises(TransientError, match="injected"):
        generate_now(pg_sessions, FailingPuts(store, 1), "wr_2")

    assert cache_rows(pg_sessions) == before
    assert executable(pg_sessions, "wf") == set(LABELS[:2])
    assert generate_now(pg_sessions, store, "wr_2").version == 2
    assert versions(pg_sessions, "wf") == [1, 2]
    assert executable(pg_sessions, "wf") == set(LABELS[:4])


def test_an_unreachable_s3_endpoint_is_a_transient_error_and_writes_nothing(
    pg_sessions: sessionmaker[Session],
    aws_env: None,
) -> None:
    closed_port = free_port()  # bound and released: nothing listens there
    unreachable = open_store(
        "s3://nowhere/scripts", s3_endpoint_url=f"http://127.0.0.1:{closed_port}"
    )
    record(pg_sessions, linear_run("wr_1", "wf", LABELS[:2]))

    with pytest.raises(TransientError, match="nowhere"):
        generate_now(pg_sessions, unreachable, "wr_1")

    assert cache_rows(pg_sessions) == {
        "scripts": 0,
        "revisions": 0,
        "files": 0,
        "blocks": 0,
        "live": [],
    }


# --- fencing ---------------------------------------------------------------------------------


def test_a_lost_lease_reported_at_the_commit_rolls_everything_back(
    pg_sessions: sessionmaker[Session],
    local_store: BlobStore,
) -> None:
    record(
        pg_sessions,
        stopping_early("wr_1", "wf", LABELS, 1),
        stopping_early("wr_2", "wf", LABELS, 3),
    )
    generate_now(pg_sessions, local_store, "wr_1")
    before = cache_rows(pg_sessions)

    lost = LeaseLost("run wr_2: the lease was taken over by another worker")
    with pytest.raises(LeaseLost), crash_before_commit(pg_sessions, lost):
        generate_now(pg_sessions, local_store, "wr_2")

    assert cache_rows(pg_sessions) == before
    assert executable(pg_sessions, "wf") == {"sign_in"}


class TakenOverDuringUpload:
    """A blob store whose first put lets another worker take the run's lease over (the first
    holder's 300 s lease expired while it uploaded)."""

    def __init__(
        self, inner: BlobStore, sessions: sessionmaker[Session], run_id: str, clock: ManualClock
    ) -> None:
        self.inner, self.sessions, self.run_id, self.clock = inner, sessions, run_id, clock
        self.other: debounce.Claim | debounce.NotDue | debounce.Idle | None = None

    def put(self, data: bytes) -> str:
        if self.other is None:
            with self.sessions.begin() as session:
                self.other = debounce.claim(
                    session, self.run_id, self.clock.advance(400), lease_s=10
                )
        return self.inner.put(data)

    def get(self, sha256: str) -> bytes:
        return self.inner.get(sha256)

    def exists(self, sha256: str) -> bool:
        return self.inner.exists(sha256)

    def describe(self) -> str:
        return f"taken-over({self.inner.describe()})"


def test_a_writer_whose_debounce_lease_was_taken_over_writes_nothing(
    pg_sessions: sessionmaker[Session],
    local_store: BlobStore,
) -> None:
    record(pg_sessions, linear_run("wr_1", "wf", LABELS[:2]))
    clock = ManualClock()
    with pg_sessions.begin() as session:
        debounce.bump(session, "wr_1", clock(), Timing(quiet_s=1, max_wait_s=5), immediate=True)
    settings = Settings(lease_s=300.0)
    store = TakenOverDuringUpload(local_store, pg_sessions, "wr_1", clock)

    outcome = generate_due(pg_sessions, store, "wr_1", settings, clock)

    assert outcome.result.startswith("rolled back") and outcome.generation is None
    assert isinstance(store.other, debounce.Claim)
    assert cache_rows(pg_sessions)["revisions"] == 0
    with pg_sessions() as session:
        row = session.get(m.RunDebounce, "wr_1")
        assert row is not None and row.lease_token == store.other.token
        assert row.generations == 0
    with pg_sessions.begin() as session:  # the new holder generates and clears the record
        assert debounce.complete(session, "wr_1", store.other, clock()) is None
    assert generate_now(pg_sessions, local_store, "wr_1").version == 1


# --- concurrency -----------------------------------------------------------------------------

WRITERS = 8


def generate_together(
    sessions: sessionmaker[Session],
    store: BlobStore,
    run_ids: list[str],
    *,
    tries: int,
) -> tuple[list[GenerateResult | BaseException], list[TransientError]]:
    """Start one generate per run at the same instant, each in its own thread. A thread that
    gets a TransientError tries again, at most `tries` calls in all, as the task would."""
    barrier = threading.Barrier(len(run_ids))
    gave_up: list[TransientError] = []

    def one(run_id: str) -> GenerateResult | BaseException:
        barrier.wait(timeout=30)
        for _ in range(tries - 1):
            try:
                return generate_now(sessions, store, run_id)
            except TransientError as exc:
                gave_up.append(exc)
        try:
            return generate_now(sessions, store, run_id)
        except Exception as exc:  # reported by the caller, with the others' outcomes
            return exc

    with ThreadPoolExecutor(max_workers=len(run_ids)) as pool:
        return list(pool.map(one, run_ids)), gave_up


def record_one_label_each(
    sessions: sessionmaker[Session], prefix: str, writers: int
) -> tuple[list[str], list[str]]:
    """Runs of one workflow (same cache key), each having executed a different label."""
    labels = [f"step_{i}" for i in range(writers)]
    run_ids = [f"wr_{prefix}_{i}" for i in range(writers)]
    for run_id, label in zip(run_ids, labels, strict=True):
        record(sessions, linear_run(run_id, "wf", labels, executed=[label]))
    return labels, run_ids


def assert_one_revision_per_writer(
    sessions: sessionmaker[Session],
    store: BlobStore,
    outcomes: list[GenerateResult | BaseException],
    labels: list[str],
) -> None:
    writers = len(labels)
    assert [o for o in outcomes if isinstance(o, BaseException)] == []
    results = [o for o in outcomes if isinstance(o, GenerateResult)]
    assert all(r.regenerated for r in results)
    assert sorted(r.version or 0 for r in results) == list(range(1, writers + 1))
    assert versions(sessions, "wf") == list(range(1, writers + 1))
    assert executable(sessions, "wf") == set(labels)
    with sessions() as session:
        script = scripts.resolve_script(session, "wf", None)
        for version in range(1, writers + 1):
            revision = cache.revision_by_version(session, script, version)
            cached = {e.label for e in revision.entries.values() if e.run_signature}
            assert len(cached) == version  # each writer added its label to the one before
            assert set(scripts.read_files(store, revision)) == (
                {"main.py"} | {f"blocks/{label}.py" for label in cached}
            )


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_writers_publish_gapless_versions_holding_every_label(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
    round_: int,
) -> None:
    labels, run_ids = record_one_label_each(pg_sessions, str(round_), WRITERS)

    outcomes, gave_up = generate_together(pg_sessions, store, run_ids, tries=WRITERS)

    print(f"\n{WRITERS} writers, round {round_}: {len(gave_up)} calls ran out of attempts")
    assert all("kept moving" in str(exc) for exc in gave_up)
    assert_one_revision_per_writer(pg_sessions, store, outcomes, labels)


def test_no_writer_gives_up_when_writers_do_not_outnumber_its_attempts(
    pg_sessions: sessionmaker[Session],
    local_store: BlobStore,
) -> None:
    # A writer loses a race only to another writer's commit, and each writer commits once.
    writers = MAX_PUBLISH_ATTEMPTS
    labels, run_ids = record_one_label_each(pg_sessions, "few", writers)

    outcomes, gave_up = generate_together(pg_sessions, local_store, run_ids, tries=1)

    assert gave_up == []
    assert_one_revision_per_writer(pg_sessions, local_store, outcomes, labels)


# --- immutability ----------------------------------------------------------------------------


def test_every_old_revision_reads_back_its_own_files(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    for count in range(1, len(LABELS) + 1):
        record(pg_sessions, stopping_early(f"wr_{count}", "wf", LABELS, count))
        assert generate_now(pg_sessions, store, f"wr_{count}").version == count

    with pg_sessions() as session:
        script = scripts.resolve_script(session, "wf", None)
        revisions = [
            cache.revision_by_version(session, script, v) for v in range(1, len(LABELS) + 1)
        ]
        recorded = {
            (rid, path): sha
            for rid, path, sha in session.execute(
                select(m.ScriptFile.script_revision_id, m.ScriptFile.path, m.ScriptFile.sha256)
            )
        }
    contents = [scripts.read_files(store, r) for r in revisions]
    for revision, files in zip(revisions, contents, strict=True):
        assert len(files) == revision.version + 1  # main.py and one file per cached block
        for path, data in files.items():
            assert hashlib.sha256(data).hexdigest() == recorded[revision.revision_id, path]
    newest = contents[-1]
    for files in contents[:-1]:
        assert files["main.py"] != newest["main.py"]
        for path, data in files.items():
            if path != "main.py":  # carried-forward blocks keep their code byte for byte
                assert newest[path] == data
    assert len({files["main.py"] for files in contents}) == len(LABELS)
    with pg_sessions() as session:
        rows = scripts.history_rows(session, scripts.resolve_script(session, "wf", None))
    assert [(r["version"], r["cached_blocks"], r["live"]) for r in rows] == [
        (v, v, v == len(LABELS)) for v in range(1, len(LABELS) + 1)
    ]


# --- the run plan ----------------------------------------------------------------------------


def test_the_plan_switches_to_code_exactly_when_the_last_required_label_is_cached(
    pg_sessions: sessionmaker[Session],
    local_store: BlobStore,
) -> None:
    labels = LABELS[:4]
    record(pg_sessions, stopping_early("wr_0", "wf", labels, 0))
    with pg_sessions() as session:
        plan = scripts.run_plan(session, "wf", {})
    assert (plan["mode"], plan["missing"]) == ("agent", labels)

    for count in range(1, len(labels) + 1):
        record(pg_sessions, stopping_early(f"wr_{count}", "wf", labels, count))
        generate_now(pg_sessions, local_store, f"wr_{count}")
        with pg_sessions() as session:
            plan = scripts.run_plan(session, "wf", {})
        done = count == len(labels)
        assert plan["mode"] == ("code" if done else "agent"), count
        assert plan["missing"] == labels[count:]
        assert plan["blocks"] == {
            label: "code" if i < count else "agent" for i, label in enumerate(labels)
        }
        assert plan["version"] == count


def test_the_plan_runs_conditionals_live_but_their_cached_branches_as_code(
    pg_sessions: sessionmaker[Session],
    local_store: BlobStore,
) -> None:
    defn = definition(
        [
            task_block("sign_in", "login"),
            {
                "label": "route",
                "block_type": "conditional",
                "branches": [
                    {"condition": "{{ go_a }}", "blocks": [task_block("branch_a")]},
                    {"condition": None, "blocks": [task_block("branch_b")]},
                ],
            },
        ]
    )
    for run_id, branch in (("wr_a", "branch_a"), ("wr_b", "branch_b")):
        builder = RunBuilder(run_id, "wf", defn, parameters={"go_a": branch == "branch_a"})
        builder.block("sign_in", "login")
        builder.block("route", "conditional")
        builder.block(branch)
        record(pg_sessions, builder.finish())
        generate_now(pg_sessions, local_store, run_id)
        with pg_sessions() as session:
            plan = scripts.run_plan(session, "wf", {"go_a": True})
        assert plan["blocks"]["route"] == "agent"
        assert plan["blocks"][branch] == "code"
    assert (plan["mode"], plan["missing"]) == ("code", [])


# --- statement counts ------------------------------------------------------------------------


@contextmanager
def counting(engine: Engine) -> Iterator[list[str]]:
    """Every statement sent to the database meanwhile (an executemany counts once)."""
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _numbered(size: int) -> list[str]:
    return [f"block_{i:03d}" for i in range(size)]


def _count_generation(
    engine: Engine, sessions: sessionmaker[Session], store: BlobStore, run_id: str
) -> int:
    with counting(engine) as statements:
        result = generate_now(sessions, store, run_id)
    assert result.regenerated
    return len(statements)


def test_a_regeneration_sends_the_same_number_of_statements_for_10_or_300_blocks(
    pg_engine: Engine,
    pg_sessions: sessionmaker[Session],
    local_store: BlobStore,
) -> None:
    counts: dict[int, tuple[int, int]] = {}
    for size in (10, 300):
        wpid, labels = f"wf_{size}", _numbered(size)
        record(
            pg_sessions,
            stopping_early(f"wr_{size}_first", wpid, labels, size - 1),
            stopping_early(f"wr_{size}_last", wpid, labels, size),
        )
        first = _count_generation(pg_engine, pg_sessions, local_store, f"wr_{size}_first")
        # The second regeneration carries size - 1 entries forward and adds one.
        second = _count_generation(pg_engine, pg_sessions, local_store, f"wr_{size}_last")
        counts[size] = (first, second)
        assert len(executable(pg_sessions, wpid)) == size

    print(
        f"\nSQL statements per regeneration (first, incremental): "
        f"10 blocks {counts[10]}, 300 blocks {counts[300]}"
    )
    assert counts[10] == counts[300]


# --- definition changes ----------------------------------------------------------------------


def test_an_edited_block_whose_code_is_unchanged_still_gets_its_new_definition_hash(
    pg_sessions: sessionmaker[Session],
    local_store: BlobStore,
) -> None:
    v1 = definition([task_block("sign_in", "login"), task_block("search")])
    edited = definition(
        [
            task_block("sign_in", "login"),
            task_block("search", navigation_goal="Search by order number"),
        ]
    )
    first = RunBuilder("wr_1", "wf", v1, version=1)
    first.block("sign_in", "login")
    first.block("search")
    second = RunBuilder("wr_2", "wf", edited, version=2)
    second.block("sign_in", "login", executed_with="code")
    second.block("search")
    record(pg_sessions, first.finish(), second.finish())

    assert generate_now(pg_sessions, local_store, "wr_1").version == 1
    result = generate_now(pg_sessions, local_store, "wr_2")

    assert (result.version, result.labels) == (2, ("search",)), result.reason
    with pg_sessions() as session:
        workflow = session.get(m.Workflow, ("wf", 2))
        assert workflow is not None
        defn = Definition.model_validate(workflow.definition)
        history = cache.history(session, scripts.resolve_script(session, "wf", None))
    assert [r.workflow_version for r in history] == [1, 2]
    # The goal does not enter the code: same files, but the entry must carry the new hash,
    # or `search` would stay uncached under version 2 forever (the reference's defect 3).
    assert history[0].content_sha256 == history[1].content_sha256
    assert executable_labels(defn, live_of(pg_sessions, "wf").entries) == {"sign_in", "search"}
    third = RunBuilder("wr_3", "wf", edited, version=2)
    third.block("sign_in", "login", executed_with="code")
    third.block("search", executed_with="code")
    record(pg_sessions, third.finish())
    assert generate_now(pg_sessions, local_store, "wr_3").regenerated is False
    with pg_sessions() as session:
        assert scripts.run_plan(session, "wf", {})["mode"] == "code"
