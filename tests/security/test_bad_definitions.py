"""Definitions and block events a careless or hostile producer sends: slow and huge cache-key
templates, oversized and reserved labels, deep nesting, labels the definition lacks, unknown
block types, templates in recorded urls. Each is refused at intake or at generation as a
permanent error naming its reason, within a bound on wall time; nothing is retried, nothing
crashes. Intake and generation run in-process against real PostgreSQL."""

from __future__ import annotations

import ast
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from tests.factory import RunBuilder, definition, task_block
from tests.keys import SEAL_KEY
from worker.adapters.clock import utcnow
from worker.adapters.sql import models as m
from worker.adapters.store import open_store
from worker.app import deadletter
from worker.app.generation import generate_now as generate
from worker.app.intake import record_and_bump as take_in
from worker.domain.definition import MAX_LABEL_CHARS, MAX_LOOP_DEPTH, Definition, render_cache_key
from worker.domain.errors import PermanentError
from worker.domain.events import parse_event
from worker.domain.sandbox import RENDER_TIMEOUT_S

SETTINGS = Settings(quiet_s=1.0, max_wait_s=5.0, seal_keys=SEAL_KEY.keys)

SLOW_OR_HUGE = {
    "nested range": "{% for a in range(100000) %}{% for b in range(100000) %}"
    "{% endfor %}{% endfor %}x",
    "repeated repetition": '{{ "x"*512*512*512*512 }}',
    "center": '{{ "a"|center(300000000) }}',
    "format width": '{{ "%0300000000d"|format(1) }}',
    "lipsum": "{{ lipsum(100000) }}",
    "recursive macro": "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "huge output": "{% for i in range(99999) %}{{ tenant }}{% endfor %}",
}


@pytest.mark.parametrize("template", list(SLOW_OR_HUGE.values()), ids=list(SLOW_OR_HUGE))
def test_a_slow_or_huge_cache_key_template_is_a_permanent_error_within_the_bound(
    template: str,
) -> None:
    d = Definition.model_validate({"cache_key": template})
    started = time.monotonic()
    with pytest.raises(PermanentError, match=r"^cache_key: .*(cannot be rendered|over \d+)"):
        render_cache_key(d, {"tenant": "acme"})
    assert time.monotonic() - started < RENDER_TIMEOUT_S + 3.0


def test_an_ordinary_cache_key_template_still_renders() -> None:
    for template, key in [
        ("{{ tenant }}-{{ region|lower }}", "acme-eu"),
        ('{{ "%s/%s"|format(tenant, region) }}', "acme/EU"),
        ("{% if region %}{{ region }}{% else %}none{% endif %}", "EU"),
    ]:
        d = Definition.model_validate({"cache_key": template})
        assert render_cache_key(d, {"tenant": "acme", "region": "EU"}) == key


def intake_all(sessions: sessionmaker[Session], events: list[dict[str, Any]]) -> list[str | None]:
    """Take events in as the intake task does; the error of each refused one, else None."""
    errors: list[str | None] = []
    for raw in events:
        try:
            with sessions.begin() as session:
                take_in(session, parse_event(raw), utcnow(), SETTINGS)
            errors.append(None)
        except PermanentError as exc:
            errors.append(str(exc))
    return errors


def test_a_label_too_long_to_store_is_refused_at_intake_naming_the_field(
    pg_sessions: sessionmaker[Session],
) -> None:
    long_label = "L" * 9000
    in_definition = RunBuilder("wr_long_def", "wf_long", definition([task_block(long_label)]))
    in_block = RunBuilder("wr_long_block", "wf_long2", definition([task_block("a")]))
    in_block.block("a")
    in_block.events[-1]["label"] = long_label

    errors = intake_all(pg_sessions, [in_definition.events[0], *in_block.events])

    assert errors[0] is not None and "label" in errors[0]
    assert f"over {MAX_LABEL_CHARS}" in errors[0]
    assert errors[1] is None
    assert errors[2] is not None and "label" in errors[2] and f"over {MAX_LABEL_CHARS}" in errors[2]


def test_the_reserved_orchestrator_label_is_refused_in_a_definition_and_in_a_block(
    pg_sessions: sessionmaker[Session],
) -> None:
    start = RunBuilder("wr_res", "wf_res", definition([task_block("__start_block__")]))
    block = RunBuilder("wr_res2", "wf_res2", definition([task_block("a")]))
    block.block("a")
    block.events[-1]["label"] = "__start_block__"

    errors = intake_all(pg_sessions, [start.events[0], *block.events])

    assert errors[0] is not None and "'__start_block__' is reserved" in errors[0]
    assert errors[2] is not None and "'__start_block__' is reserved" in errors[2]


def nested_loops(depth: int) -> dict[str, Any]:
    block: dict[str, Any] = task_block("leaf")
    for level in range(depth):
        block = {
            "label": f"loop{level}",
            "block_type": "for_loop",
            "loop_over": "xs",
            "loop_blocks": [block],
        }
    return block


def test_loops_nested_too_deep_to_compile_are_refused_and_the_deepest_allowed_compiles(
    pg_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    params = [{"key": "xs", "parameter_type": "workflow"}]
    too_deep = RunBuilder(
        "wr_deep21", "wf_deep21", definition([nested_loops(21)], parameters=params)
    )
    assert "loops nested deeper than" in (intake_all(pg_sessions, [too_deep.events[0]])[0] or "")

    run = RunBuilder(
        "wr_deep",
        "wf_deep",
        definition([nested_loops(MAX_LOOP_DEPTH)], parameters=params),
        parameters={"xs": ["v"]},
    )
    parent = None
    for level in reversed(range(MAX_LOOP_DEPTH)):
        parent = run.block(
            f"loop{level}",
            "for_loop",
            actions=0,
            parent=parent,
            loop_index=None if level == MAX_LOOP_DEPTH - 1 else 0,
            loop_value=None if level == MAX_LOOP_DEPTH - 1 else "v",
        )
    run.block("leaf", parent=parent, loop_index=0, loop_value="v")
    assert intake_all(pg_sessions, run.finish()) == [None] * (MAX_LOOP_DEPTH + 3)

    result = generate(pg_sessions, open_store(f"file://{tmp_path}"), "wr_deep")

    assert result.regenerated, result.reason
    main = next(
        p.read_text()
        for p in tmp_path.rglob("*")
        if p.is_file() and b"run_workflow" in p.read_bytes()
    )
    compile(main, "main.py", "exec")
    assert main.count("async for") == MAX_LOOP_DEPTH


def test_a_block_whose_label_is_not_in_the_definition_is_dead_lettered_in_either_order(
    pg_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    after = RunBuilder("wr_stray_after", "wf_stray", definition([task_block("a")]))
    after.block("a")
    after.block("ghost")
    before = RunBuilder("wr_stray_before", "wf_stray", definition([task_block("a")]))
    before.block("ghost")
    before.block("a")
    started, *rest = before.events

    errors = intake_all(pg_sessions, after.events + rest + [started])

    assert errors[:3] == [None, None, errors[2]]
    assert errors[2] is not None and "label 'ghost' is not in the definition" in errors[2]
    assert errors[3:] == [None, None, None]
    with pg_sessions() as session:
        entries = session.scalars(select(m.DeadLetter)).all()
        kept = session.scalars(
            select(m.WorkflowRunBlock.label).where(
                m.WorkflowRunBlock.workflow_run_id == "wr_stray_before"
            )
        ).all()
    assert [(e.workflow_run_id, e.task_name) for e in entries] == [
        ("wr_stray_before", "scriptcache.block_completed")
    ]
    assert "label 'ghost' is not in the definition" in entries[0].error
    assert kept == ["a"]
    # The dead letter replays into the same check: still refused, with the same reason.
    assert "label 'ghost' is not in the definition" in (
        intake_all(pg_sessions, [entries[0].payload])[0] or ""
    )
    result = generate(pg_sessions, open_store(f"file://{tmp_path}"), "wr_stray_before")
    assert result.regenerated and result.labels == ("a",)


def test_an_unknown_block_type_is_recorded_and_never_cached(
    pg_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    run = RunBuilder(
        "wr_new_type",
        "wf_new_type",
        definition(
            [task_block("a"), {"label": "hologram", "block_type": "hologram_v9", "beam": 3}]
        ),
    )
    run.block("a")
    run.block("hologram", "hologram_v9")
    assert intake_all(pg_sessions, run.finish()) == [None] * 4

    result = generate(pg_sessions, open_store(f"file://{tmp_path}"), "wr_new_type")

    assert result.regenerated and result.labels == ("a",)
    with pg_sessions() as session:
        labels = session.scalars(select(m.ScriptBlock.label)).all()
        recorded = session.scalars(select(m.WorkflowRunBlock.block_type)).all()
    assert "hologram" not in labels and "hologram_v9" in recorded


def test_a_recorded_url_with_a_template_stays_a_literal_in_task_v2_children(
    pg_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    evil = "https://evil.test/?q={{ password }}&t={% if 1 %}x{% endif %}"
    run = RunBuilder(
        "wr_v2",
        "wf_v2",
        definition(
            [{"label": "agentic", "block_type": "task_v2", "prompt": "do it"}],
            parameters=[{"key": "password", "parameter_type": "credential"}],
        ),
        parameters={"password": "pw-value-123"},
    )
    parent = run.block("agentic", "task_v2", actions=0)
    run.block("child", "navigation", parent=parent)
    events = run.finish()
    events[2]["task"]["url"] = evil
    assert intake_all(pg_sessions, events) == [None] * 4

    generate(pg_sessions, open_store(f"file://{tmp_path}"), "wr_v2")

    code = "\n".join(p.read_text() for p in tmp_path.rglob("*") if p.is_file())
    tree = ast.parse(code) if "async def" in code else None
    assert tree is not None
    assert "ctx.render" not in code, code
    constants = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)}
    assert evil in constants


def test_a_render_failure_is_dead_lettered_at_once_with_its_reason(
    pg_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    run = RunBuilder(
        "wr_macro",
        "wf_macro",
        definition([task_block("a")], cache_key=SLOW_OR_HUGE["recursive macro"]),
    )
    run.block("a")
    assert intake_all(pg_sessions, run.finish()) == [None] * 3
    with pytest.raises(PermanentError) as caught:
        generate(pg_sessions, open_store(f"file://{tmp_path}"), "wr_macro")

    failure = deadletter.Failure(
        "scriptcache.generate", "t", caught.value, {"workflow_run_id": "wr_macro"}, 1, "Traceback"
    )

    class Log:
        def warning(self, *_: Any, **__: Any) -> None: ...

        error = warning

    entry_id = deadletter.record_failure(
        pg_sessions, failure, utcnow(), Log(), lease_s=10, seal_key=SEAL_KEY
    )
    with pg_sessions() as session:
        entry = session.get(m.DeadLetter, entry_id)
        assert entry is not None
        assert entry.attempts == 1
        assert "RecursionError" in entry.error and "cache_key" in entry.error
