"""A rule is written once and imported (STYLE 14): the task names and the union of event
models live in worker/domain/events.py, and nowhere else spells them out."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from config.celery import EVENTS_QUEUE, GENERATE_QUEUE, celery_config
from config.names import GENERATE_TASK, SWEEP_TASK, TASK_NAMES
from config.settings import Settings
from tests.support.services import ROOT

ALL_TASKS = frozenset({*TASK_NAMES.values(), GENERATE_TASK, SWEEP_TASK})
EVENT_MODELS = frozenset({"RunStarted", "BlockCompleted", "RunFinished"})
CODE = ("worker", "tasks", "config", "bench")


def python_files(tops: tuple[str, ...] = (*CODE, "tests")) -> Iterator[tuple[str, ast.Module]]:
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            if "golden" not in path.parts:
                yield str(path.relative_to(ROOT)), parsed(path)


@cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def union_members(node: ast.AST) -> set[str] | None:
    """The names joined by `|` in `node`, or None when it is not such a union."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        left, right = union_members(node.left), union_members(node.right)
        return None if left is None or right is None else left | right
    return None


def test_the_task_names_are_the_contracts() -> None:
    assert TASK_NAMES == {
        "run_started": "scriptcache.run_started",
        "block_completed": "scriptcache.block_completed",
        "run_finished": "scriptcache.run_finished",
    }
    assert (GENERATE_TASK, SWEEP_TASK) == ("scriptcache.generate", "scriptcache.sweep")


def test_task_names_are_spelled_only_in_config_names() -> None:
    # (Tests may spell them: they pin the contract.)
    spelled = {
        (path, node.value)
        for path, tree in python_files(CODE)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in ALL_TASKS
    }
    allowed = {
        ("config/names.py", GENERATE_TASK),
        ("config/names.py", SWEEP_TASK),
        ("config/celery.py", GENERATE_QUEUE),
    }  # the queue that has the task's name
    assert spelled <= allowed
    assert GENERATE_QUEUE == GENERATE_TASK  # (the exception above is a queue, not a task)


def test_every_task_is_routed_and_scheduled_by_its_imported_name() -> None:
    config = celery_config(Settings())
    assert set(config["task_routes"]) == ALL_TASKS
    assert {config["task_routes"][t]["queue"] for t in TASK_NAMES.values()} == {EVENTS_QUEUE}
    assert config["beat_schedule"]["sweep-due-runs"]["task"] == SWEEP_TASK


def test_the_event_union_is_defined_once() -> None:
    unions = sorted(
        path
        for path, tree in python_files()
        for node in ast.walk(tree)
        if isinstance(node, ast.BinOp) and union_members(node) == EVENT_MODELS
    )
    assert unions == ["worker/domain/events.py"]


def test_the_scan_sees_the_code_it_checks() -> None:
    files = {path for path, _ in python_files()}
    assert {"worker/domain/events.py", "tasks/intake.py", "config/celery.py"} <= files
    assert Path(ROOT / "worker" / "domain" / "events.py").is_file()
