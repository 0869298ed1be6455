"""Operators steer revisions (issue 15): pin and candidates, promote, rollback and the
carry-forward from the live revision, purge against a concurrent generation, the audit.

Real PostgreSQL (a fresh migrated database per test) and both blob stores: a local
directory and moto's S3 server over HTTP. Concurrency is real: a second thread with its own
connections, interleaved at the points a generation passes through (after its uploads,
inside its publish transaction).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from tests.factory import RunBuilder, definition, linear_run, task_block
from tests.keys import SEAL_KEY
from worker.adapters.clock import utcnow
from worker.adapters.s3 import S3Store
from worker.adapters.sql import cache, scripts
from worker.adapters.sql import models as m
from worker.adapters.sql.engine import make_sessionmaker
from worker.adapters.store import BLOB_DIR, BlobStore, LocalStore, open_store
from worker.app import purge as purging
from worker.app import revisions
from worker.app.generation import GenerateResult, generate_now
from worker.app.intake import record_only, take_in
from worker.domain.errors import PermanentError
from worker.domain.events import parse_event

Events = list[dict[str, Any]]
OPERATOR = revisions.Operator("ops@test", "a test says so")
LABELS = ["sign_in", "search", "order"]


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "s3":
        s3: BlobStore = request.getfixturevalue("s3_store")
        return s3
    return open_store(f"file://{tmp_path / 'blobs'}")


def record(sessions: sessionmaker[Session], *runs: Events) -> None:
    for events in runs:
        record_only(sessions, [parse_event(e) for e in events], SEAL_KEY)


def regional_run(run_id: str, region: str, executed: list[str], *, actions: int = 2) -> Events:
    """A run of workflow "wf" whose cache key is its region."""
    defn = definition(
        [task_block(label) for label in LABELS],
        cache_key="{{ region }}",
        parameters=[{"key": "region", "parameter_type": "workflow"}],
    )
    builder = RunBuilder(run_id, "wf", defn, parameters={"region": region})
    for label in executed:
        builder.block(label, actions=actions)
    return builder.finish()


def stored_blobs(store: BlobStore) -> set[str]:
    """Every blob in the store, listed by the store's own means (directory, S3 listing)."""
    if isinstance(store, LocalStore):
        folder = store.root / BLOB_DIR
        return {p.name for p in folder.glob("*") if not p.name.startswith(".")}
    assert isinstance(store, S3Store)
    prefix = f"{store.prefix}/{BLOB_DIR}/" if store.prefix else f"{BLOB_DIR}/"
    found: set[str] = set()
    for page in store.client.get_paginator("list_objects_v2").paginate(
        Bucket=store.bucket, Prefix=prefix
    ):
        found |= {obj["Key"].rsplit("/", 1)[1] for obj in page.get("Contents", [])}
    return found


def assert_consistent(sessions: sessionmaker[Session], store: BlobStore) -> None:
    """No revision without its files' blobs, no revision without files, no unreferenced
    blob."""
    with sessions() as session:
        referenced = set(session.scalars(select(m.ScriptFile.sha256).distinct()))
        bare = session.scalars(
            select(m.ScriptRevision.script_revision_id).where(
                ~select(m.ScriptFile)
                .where(m.ScriptFile.script_revision_id == m.ScriptRevision.script_revision_id)
                .exists()
            )
        ).all()
    stored = stored_blobs(store)
    assert referenced - stored == set(), "a committed revision references a deleted blob"
    assert stored - referenced == set(), "a blob that no revision references"
    assert bare == []


def live(sessions: sessionmaker[Session], key: str | None = None) -> cache.LiveRevision:
    with sessions() as session:
        return scripts.select_revision(session, scripts.resolve_script(session, "wf", key), None)


def revision(
    sessions: sessionmaker[Session], version: int, key: str | None = None
) -> cache.LiveRevision:
    with sessions() as session:
        return scripts.select_revision(session, scripts.resolve_script(session, "wf", key), version)


def count(sessions: sessionmaker[Session], model: type[m.Base]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


class AfterUploads:
    """A blob store that runs `hook` once, right after the `after`-th upload: a generation
    has then uploaded its files and not yet opened its publish transaction."""

    def __init__(self, inner: BlobStore, after: int, hook: Callable[[], object]) -> None:
        self.inner, self.after, self.hook, self.puts = inner, after, hook, 0
        self.hooked: list[object] = []

    def put(self, data: bytes) -> str:
        sha = self.inner.put(data)
        self.puts += 1
        if self.puts == self.after and not self.hooked:
            self.hooked.append(self.hook())
        return sha

    def get(self, sha256: str) -> bytes:
        return self.inner.get(sha256)

    def exists(self, sha256: str) -> bool:
        return self.inner.exists(sha256)

    def delete(self, sha256: str) -> None:
        self.inner.delete(sha256)

    def describe(self) -> str:
        return f"after-uploads({self.inner.describe()})"


class HeldPublish:
    """Runs a generation in a thread, on sessions of its own, and holds it just before the
    commit of its publish transaction (a SQLAlchemy `before_commit` listener) until released:
    its revision is written and flushed, not yet committed."""

    def __init__(self, sessions: sessionmaker[Session], store: BlobStore, run_id: str) -> None:
        self.inside, self.release = threading.Event(), threading.Event()
        self.result: list[GenerateResult | BaseException] = []
        own = make_sessionmaker(sessions.kw["bind"])

        def after_flush(session: Session, _context: Any) -> None:
            if any(isinstance(obj, m.ScriptRevision) for obj in session.new):
                session.info["wrote_a_revision"] = True

        def before_commit(session: Session) -> None:
            if session.info.pop("wrote_a_revision", False):
                self.inside.set()
                assert self.release.wait(30)

        event.listen(own, "after_flush", after_flush)
        event.listen(own, "before_commit", before_commit)

        def work() -> None:
            try:
                self.result.append(generate_now(own, store, run_id))
            except BaseException as exc:  # reported by the test
                self.result.append(exc)

        self.thread = threading.Thread(target=work)
        self.thread.start()
        assert self.inside.wait(30), "the generation never reached its publish transaction"

    def finish(self) -> GenerateResult:
        self.release.set()
        self.thread.join(30)
        outcome = self.result[0]
        assert isinstance(outcome, GenerateResult), outcome
        return outcome


def in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    out: list[object] = []

    def run() -> None:
        try:
            out.append(work())
        except BaseException as exc:  # reported by the test
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def purge_key(
    sessions: sessionmaker[Session], store: BlobStore, key: str, runs: bool = False
) -> purging.Purged:
    target = purging.target_for(sessions, "wf", key, all_keys=False, runs=runs)
    return purging.purge(sessions, store, target, OPERATOR)


# --- pin: candidates -------------------------------------------------------------------------


def test_a_generation_on_a_pinned_script_stores_a_candidate_and_the_plan_keeps_the_pin(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(pg_sessions, linear_run("wr_1", "wf", LABELS, executed=LABELS[:2]))
    assert generate_now(pg_sessions, store, "wr_1").version == 1
    moved = revisions.pin(pg_sessions, "wf", None, None, OPERATOR)
    assert (moved.from_version, moved.to_version, moved.pinned) == (1, 1, True)

    record(pg_sessions, linear_run("wr_2", "wf", LABELS))
    result = generate_now(pg_sessions, store, "wr_2")

    assert (result.regenerated, result.version, result.candidate) == (True, 1, 2)
    assert "pinned at v1: stored as candidate v2" in result.reason
    assert live(pg_sessions).version == 1
    with pg_sessions() as session:
        plan = scripts.run_plan(session, "wf", {})
        rows = scripts.history_rows(session, scripts.resolve_script(session, "wf", None))
    assert (plan["version"], plan["pinned"], plan["candidates"]) == (1, True, [2])
    assert (plan["mode"], plan["blocks"]["order"]) == ("agent", "agent")
    assert [(r["version"], r["live"], r["candidate"], r["pinned"]) for r in rows] == [
        (1, True, False, True),
        (2, False, True, False),
    ]
    assert set(revision(pg_sessions, 2).entries) >= set(LABELS)

    record(pg_sessions, linear_run("wr_3", "wf", LABELS))
    again = generate_now(pg_sessions, store, "wr_3")
    assert (again.regenerated, again.version, again.candidate) == (False, 1, None)
    assert "equals the candidate one's (v2)" in again.reason
    assert count(pg_sessions, m.ScriptRevision) == 2
    assert_consistent(pg_sessions, store)


def fell_back(events: Events, label: str) -> Events:
    """The run with `label` run from cached code, one of its actions redone by the agent."""
    for raw in events:
        if raw["type"] == "block_completed" and raw["label"] == label:
            raw.update(executed_with="code", fallback="element")
            raw["actions"][0]["source"] = "agent"
            raw["actions"][0]["xpath"] = "//button[@id='moved']"
    return events


def test_a_repair_on_a_pinned_script_is_stored_as_a_candidate_not_made_live(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    # ARCHITECTURE.md §8: a pinned script is never repaired automatically; issue 15: the
    # repair is still stored, as a candidate an operator can promote.
    record(
        pg_sessions,
        linear_run("wr_1", "wf", LABELS),
        fell_back(linear_run("wr_2", "wf", LABELS), "search"),
    )
    generate_now(pg_sessions, store, "wr_1")
    revisions.pin(pg_sessions, "wf", None, None, OPERATOR)

    result = generate_now(pg_sessions, store, "wr_2")

    assert (result.regenerated, result.version, result.candidate) == (True, 1, 2)
    assert "repair" in result.reason and "stored as candidate v2" in result.reason
    assert live(pg_sessions).entries["search"].source_workflow_run_id == "wr_1"
    assert revision(pg_sessions, 2).entries["search"].source_workflow_run_id == "wr_2"
    revisions.promote(pg_sessions, "wf", None, 2, OPERATOR)
    assert live(pg_sessions).entries["search"].source_workflow_run_id == "wr_2"


def test_pinning_at_a_version_makes_it_live_and_a_pin_that_changes_nothing_is_refused(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(
        pg_sessions,
        linear_run("wr_1", "wf", LABELS, executed=LABELS[:1]),
        linear_run("wr_2", "wf", LABELS, executed=LABELS[:2]),
    )
    generate_now(pg_sessions, store, "wr_1")
    assert generate_now(pg_sessions, store, "wr_2").version == 2

    moved = revisions.pin(pg_sessions, "wf", None, 1, OPERATOR)
    assert (moved.from_version, moved.to_version) == (2, 1)
    assert live(pg_sessions).version == 1
    with pytest.raises(revisions.Refused, match="already pinned at v1"):
        revisions.pin(pg_sessions, "wf", None, None, OPERATOR)
    with pytest.raises(revisions.Refused, match=r"no version 7; versions: 1 \(live\), 2"):
        revisions.pin(pg_sessions, "wf", None, 7, OPERATOR)
    revisions.unpin(pg_sessions, "wf", None, OPERATOR)
    with pytest.raises(revisions.Refused, match="is not pinned"):
        revisions.unpin(pg_sessions, "wf", None, OPERATOR)

    record(pg_sessions, linear_run("wr_3", "wf", LABELS))
    unpinned = generate_now(pg_sessions, store, "wr_3")  # unpinned again: live moves
    assert (unpinned.version, unpinned.candidate) == (3, None)
    assert live(pg_sessions).version == 3


def test_promoting_the_candidate_makes_it_live_and_the_pin_stays(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(
        pg_sessions,
        linear_run("wr_1", "wf", LABELS, executed=LABELS[:2]),
        linear_run("wr_2", "wf", LABELS),
    )
    generate_now(pg_sessions, store, "wr_1")
    revisions.pin(pg_sessions, "wf", None, None, OPERATOR)
    assert generate_now(pg_sessions, store, "wr_2").candidate == 2

    moved = revisions.promote(pg_sessions, "wf", None, 2, OPERATOR)

    assert (moved.from_version, moved.to_version, moved.pinned) == (1, 2, True)
    assert live(pg_sessions).version == 2
    with pg_sessions() as session:
        plan = scripts.run_plan(session, "wf", {})
    assert (plan["mode"], plan["version"], plan["candidates"]) == ("code", 2, [])
    with pytest.raises(revisions.Refused, match="v2 is already live"):
        revisions.promote(pg_sessions, "wf", None, 2, OPERATOR)
    with pytest.raises(revisions.Refused, match="older than the live one"):
        revisions.rollback(pg_sessions, "wf", None, 2, OPERATOR)


# --- rollback: the next generation builds on the live revision --------------------------------


def abc_run(run_id: str, blocks: dict[str, int], code_gen: bool = False) -> Events:
    """A run of blocks a, b, c of workflow "wf"; `blocks` maps label -> recorded actions."""
    defn = definition([task_block(label) for label in ("a", "b", "c")])
    builder = RunBuilder(run_id, "wf", defn, code_gen=code_gen)
    for label, actions in blocks.items():
        builder.block(label, actions=actions)
    return builder.finish()


def test_after_a_rollback_to_v1_a_new_block_carries_forward_v1s_entries(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(
        pg_sessions,
        abc_run("wr_1", {"a": 1}),
        abc_run("wr_2", {"a": 3, "b": 2}, True),
        abc_run("wr_3", {"c": 2}),
    )
    generate_now(pg_sessions, store, "wr_1")
    assert generate_now(pg_sessions, store, "wr_2").version == 2
    v1, v2 = revision(pg_sessions, 1), revision(pg_sessions, 2)
    assert v1.entries["a"].code_sha256 != v2.entries["a"].code_sha256

    moved = revisions.rollback(pg_sessions, "wf", None, 1, OPERATOR)
    assert (moved.from_version, moved.to_version) == (2, 1)
    result = generate_now(pg_sessions, store, "wr_3")

    assert (result.regenerated, result.version, result.labels) == (True, 3, ("c",))
    v3 = revision(pg_sessions, 3)
    assert v3.entries["a"] == v1.entries["a"]  # code, hashes and source run of v1
    assert v3.entries["a"].source_workflow_run_id == "wr_1"
    assert "b" not in v3.entries or v3.entries["b"].run_signature is None
    assert v3.entries["c"].source_workflow_run_id == "wr_3"
    assert store.get(v3.files["blocks/a.py"]) == store.get(v1.files["blocks/a.py"])


def test_a_rollback_while_a_generation_is_uploading_makes_it_decide_again_on_the_new_live(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(
        pg_sessions,
        abc_run("wr_1", {"a": 1}),
        abc_run("wr_2", {"a": 3, "b": 2}, True),
        abc_run("wr_3", {"c": 2}),
    )
    generate_now(pg_sessions, store, "wr_1")
    generate_now(pg_sessions, store, "wr_2")
    hooked = AfterUploads(
        store, 1, lambda: revisions.rollback(pg_sessions, "wf", None, 1, OPERATOR)
    )

    result = generate_now(pg_sessions, hooked, "wr_3")  # read v2 live, then the pointer moved

    assert len(hooked.hooked) == 1
    assert (result.version, result.labels) == (3, ("c",))
    v3 = revision(pg_sessions, 3)
    assert v3.entries["a"] == revision(pg_sessions, 1).entries["a"]
    assert "b" not in v3.entries or v3.entries["b"].run_signature is None


def test_a_promote_waits_for_a_publishing_generation_and_then_moves_the_pointer(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(
        pg_sessions,
        linear_run("wr_1", "wf", LABELS, executed=LABELS[:1]),
        linear_run("wr_2", "wf", LABELS, executed=LABELS[:2]),
    )
    generate_now(pg_sessions, store, "wr_1")
    held = HeldPublish(pg_sessions, store, "wr_2")
    thread, out = in_thread(lambda: revisions.promote(pg_sessions, "wf", None, 1, OPERATOR))
    thread.join(0.5)
    assert thread.is_alive(), "the promote did not wait for the publishing generation"

    assert held.finish().version == 2
    thread.join(30)
    moved = out[0]
    assert isinstance(moved, revisions.Moved), moved
    assert (moved.from_version, moved.to_version) == (2, 1)
    assert live(pg_sessions).version == 1


# --- purge -----------------------------------------------------------------------------------


def test_a_purge_waits_for_a_publishing_generation_then_removes_its_revision_too(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(pg_sessions, regional_run("wr_1", "eu", LABELS[:2]), regional_run("wr_2", "eu", LABELS))
    generate_now(pg_sessions, store, "wr_1")
    held = HeldPublish(pg_sessions, store, "wr_2")
    thread, out = in_thread(lambda: purge_key(pg_sessions, store, "eu"))
    thread.join(0.5)
    assert thread.is_alive(), "the purge did not wait for the publishing generation"

    assert held.finish().version == 2
    thread.join(30)
    purged = out[0]
    assert isinstance(purged, purging.Purged), purged
    assert (purged.revisions, purged.blobs_kept) == (2, 0)
    assert count(pg_sessions, m.Script) == count(pg_sessions, m.ScriptRevision) == 0
    assert stored_blobs(store) == set()
    assert_consistent(pg_sessions, store)


def test_a_purge_between_a_generations_uploads_and_its_publish_leaves_a_fresh_script(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(pg_sessions, regional_run("wr_1", "eu", LABELS[:2]), regional_run("wr_2", "eu", LABELS))
    first = generate_now(pg_sessions, store, "wr_1")
    hooked = AfterUploads(store, 1 + len(LABELS), lambda: purge_key(pg_sessions, store, "eu"))

    result = generate_now(pg_sessions, hooked, "wr_2")

    assert isinstance(hooked.hooked[0], purging.Purged)
    assert (result.regenerated, result.version) == (True, 1)  # a fresh script's first revision
    assert result.script_id != first.script_id
    fresh = live(pg_sessions, "eu")
    assert {label for label, e in fresh.entries.items() if e.run_signature} >= set(LABELS)
    assert {e.source_workflow_run_id for e in fresh.entries.values()} == {"wr_2"}
    assert_consistent(pg_sessions, store)


def test_a_purge_of_another_key_between_uploads_and_publish_makes_the_publish_upload_again(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    # Same code under both keys: the us generation's uploads find every blob present (eu's),
    # then the purge of eu deletes them all before the us revision commits.
    record(pg_sessions, regional_run("wr_eu", "eu", LABELS), regional_run("wr_us", "us", LABELS))
    generate_now(pg_sessions, store, "wr_eu")
    eu_blobs = stored_blobs(store)
    hooked = AfterUploads(store, 1 + len(LABELS), lambda: purge_key(pg_sessions, store, "eu"))

    result = generate_now(pg_sessions, hooked, "wr_us")

    purged = hooked.hooked[0]
    assert isinstance(purged, purging.Purged) and purged.blobs_deleted == len(eu_blobs)
    assert (result.regenerated, result.version, result.cache_key) == (True, 1, "us")
    us = live(pg_sessions, "us")
    assert set(us.files.values()) == eu_blobs  # the same content, uploaded again
    for sha in us.files.values():
        store.get(sha)
    assert_consistent(pg_sessions, store)


def test_a_purge_waits_for_another_keys_publish_and_keeps_the_blobs_it_shares(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(pg_sessions, regional_run("wr_eu", "eu", LABELS), regional_run("wr_us", "us", LABELS))
    generate_now(pg_sessions, store, "wr_eu")
    held = HeldPublish(pg_sessions, store, "wr_us")
    thread, out = in_thread(lambda: purge_key(pg_sessions, store, "eu"))
    thread.join(0.5)
    assert thread.is_alive(), "the purge did not wait for the publishing generation"

    assert held.finish().cache_key == "us"
    thread.join(30)
    purged = out[0]
    assert isinstance(purged, purging.Purged), purged
    assert (purged.blobs_deleted, purged.blobs_kept) == (0, 1 + len(LABELS))
    for sha in live(pg_sessions, "us").files.values():
        store.get(sha)
    assert_consistent(pg_sessions, store)


def test_a_publish_of_a_blob_whose_deletion_is_pending_waits_for_the_purge_to_finish(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(pg_sessions, regional_run("wr_eu", "eu", LABELS), regional_run("wr_us", "us", LABELS))
    generate_now(pg_sessions, store, "wr_eu")
    target = purging.target_for(pg_sessions, "wf", "eu", all_keys=False, runs=False)
    _, deletions = purging.remove_rows(pg_sessions, target, OPERATOR, utcnow())

    with pytest.raises(cache.BlobsBeingDeleted):
        generate_now(pg_sessions, store, "wr_us")
    assert count(pg_sessions, m.ScriptRevision) == 0

    purging.delete_blobs(pg_sessions, store, deletions)
    assert generate_now(pg_sessions, store, "wr_us").version == 1
    assert_consistent(pg_sessions, store)


def test_the_next_purge_completes_the_deletions_of_a_purge_that_died_an_hour_ago(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(
        pg_sessions,
        regional_run("wr_eu", "eu", LABELS),
        regional_run("wr_us", "us", LABELS),
        regional_run("wr_de", "de", LABELS[:1], actions=5),
    )
    for run_id in ("wr_eu", "wr_de"):
        generate_now(pg_sessions, store, run_id)
    died_at = utcnow() - purging.ABANDONED_AFTER - timedelta(minutes=1)
    target = purging.target_for(pg_sessions, "wf", "eu", all_keys=False, runs=False)
    purging.remove_rows(pg_sessions, target, OPERATOR, died_at)  # and then it died
    with pytest.raises(cache.BlobsBeingDeleted):
        generate_now(pg_sessions, store, "wr_us")

    later = purge_key(pg_sessions, store, "de")

    assert later.resumed == 1 + len(LABELS)
    assert stored_blobs(store) == set()
    assert generate_now(pg_sessions, store, "wr_us").version == 1
    assert_consistent(pg_sessions, store)


def test_purging_one_cache_key_leaves_the_other_keys_script_and_blobs_intact(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(
        pg_sessions,
        regional_run("wr_eu", "eu", LABELS),
        regional_run("wr_us", "us", LABELS),
        regional_run("wr_us2", "us", LABELS, actions=3),
    )
    generate_now(pg_sessions, store, "wr_eu")
    generate_now(pg_sessions, store, "wr_us")
    with pg_sessions() as session:
        us_script = scripts.resolve_script(session, "wf", "us")
        us_before = scripts.history_rows(session, us_script)
    us_files = live(pg_sessions, "us").files

    purged = purge_key(pg_sessions, store, "eu", runs=True)

    assert (purged.revisions, purged.blobs_deleted, purged.runs) == (1, 0, 1)
    assert purged.blobs_kept == len(set(us_files.values()))
    with pg_sessions() as session:
        assert [s.cache_key_value for s in cache.scripts_of(session, "wf")] == ["us"]
        assert (
            scripts.history_rows(session, scripts.resolve_script(session, "wf", "us")) == us_before
        )
        runs = set(session.scalars(select(m.WorkflowRun.workflow_run_id)))
        blocks = set(session.scalars(select(m.WorkflowRunBlock.workflow_run_id)))
    assert runs == blocks == {"wr_us", "wr_us2"}
    assert {path: store.get(sha) for path, sha in us_files.items()}
    assert_consistent(pg_sessions, store)
    with pytest.raises(PermanentError, match="no event of this run"):
        generate_now(pg_sessions, store, "wr_eu")


def test_a_redelivered_event_of_a_purged_run_records_nothing(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    events = regional_run("wr_eu", "eu", LABELS)
    settings = Settings(quiet_s=1.0, max_wait_s=5.0)
    for raw in events:
        take_in(pg_sessions, raw, raw["type"], settings, utcnow)
    generate_now(pg_sessions, store, "wr_eu")

    assert purge_key(pg_sessions, store, "eu", runs=True).runs == 1
    redelivered = [take_in(pg_sessions, raw, raw["type"], settings, utcnow) for raw in events]

    assert all(intake.duplicate for intake in redelivered)
    assert count(pg_sessions, m.WorkflowRun) == count(pg_sessions, m.WorkflowRunBlock) == 0
    assert count(pg_sessions, m.RunDebounce) == 0


def test_a_generation_of_a_run_purged_meanwhile_publishes_nothing(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(pg_sessions, regional_run("wr_1", "eu", LABELS[:2]), regional_run("wr_2", "eu", LABELS))
    generate_now(pg_sessions, store, "wr_1")
    hooked = AfterUploads(store, 1, lambda: purge_key(pg_sessions, store, "eu", runs=True))

    with pytest.raises(cache.RunPurged):
        generate_now(pg_sessions, hooked, "wr_2")

    assert count(pg_sessions, m.Script) == count(pg_sessions, m.WorkflowRun) == 0
    with pg_sessions() as session:
        referenced = set(session.scalars(select(m.ScriptFile.sha256)))
    assert referenced == set()


# --- audit -----------------------------------------------------------------------------------


def test_the_audit_lists_every_operator_action_in_order_and_outlives_the_purge(
    pg_sessions: sessionmaker[Session],
    store: BlobStore,
) -> None:
    record(
        pg_sessions,
        linear_run("wr_1", "wf", LABELS, executed=LABELS[:2]),
        linear_run("wr_2", "wf", LABELS),
    )
    generate_now(pg_sessions, store, "wr_1")
    alice, bob = revisions.Operator("alice", "freeze"), revisions.Operator("bob")
    revisions.pin(pg_sessions, "wf", None, None, alice)
    generate_now(pg_sessions, store, "wr_2")
    revisions.promote(pg_sessions, "wf", None, 2, bob)
    with pytest.raises(revisions.Refused):
        revisions.promote(pg_sessions, "wf", None, 2, bob)  # refused: not recorded
    revisions.rollback(pg_sessions, "wf", None, 1, alice)
    revisions.unpin(pg_sessions, "wf", None, bob)
    purging.purge(
        pg_sessions,
        store,
        purging.target_for(pg_sessions, "wf", None, False, False),
        revisions.Operator("carol", "personal data in v2"),
    )

    rows = revisions.audit_rows(pg_sessions, "wf", None)

    assert [(r["action"], r["by"], r["why"], r["from_version"], r["to_version"]) for r in rows] == [
        ("pin", "alice", "freeze", 1, 1),
        ("promote", "bob", None, 1, 2),
        ("rollback", "alice", "freeze", 2, 1),
        ("unpin", "bob", None, 1, 1),
        ("purge", "carol", "personal data in v2", 1, None),
    ]
    assert [r["at"] for r in rows] == sorted(r["at"] for r in rows)
    assert rows[-1]["details"]["revisions"] == 2
    with pytest.raises(PermanentError, match="no workflow has one"):
        revisions.audit_rows(pg_sessions, "nope", None)
