"""The browser runtime's pure parts, from tables of cases (no browser needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from config.settings import FULL_CHROMIUM_PATH, HEADLESS_SHELL_PATH, default_chromium_path
from worker.browser.chromium import ChromiumMissing, check_chromium, chromium_path
from worker.browser.context import choose_branch, loop_items, truth
from worker.browser.page import ReplayError, key_name, playwright_selector
from worker.browser.replay import load_script
from worker.domain.definition import Block


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        ("//button[@id='go']", "xpath=//button[@id='go']"),
        ("(//a)[2]", "xpath=(//a)[2]"),
        ("button#go", "button#go"),
        ("[data-test=x]", "[data-test=x]"),
    ],
)
def test_recorded_selectors_become_playwright_selectors(recorded: str, expected: str) -> None:
    assert playwright_selector(recorded) == expected


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("Enter", "Enter"),
        ("enter", "Enter"),
        ("RETURN", "Enter"),
        ("Esc", "Escape"),
        ("Control+A", "Control+A"),
        ("a", "a"),
    ],
)
def test_recorded_keys_become_playwright_key_names(key: str, expected: str) -> None:
    assert key_name(key) == expected


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, default_chromium_path()),
        ({"SCRIPTCACHE_CHROMIUM_PATH": " "}, default_chromium_path()),
        ({"SCRIPTCACHE_CHROMIUM_PATH": "/opt/chromium/chrome"}, "/opt/chromium/chrome"),
    ],
)
def test_the_chromium_path_comes_from_the_environment(
    environ: dict[str, str], expected: str
) -> None:
    assert chromium_path(environ) == expected


def test_the_default_is_the_headless_shell_when_it_is_installed_else_chromium() -> None:
    installed = Path(HEADLESS_SHELL_PATH).is_file()
    assert default_chromium_path() == (HEADLESS_SHELL_PATH if installed else FULL_CHROMIUM_PATH)


def test_a_headed_replay_in_the_headless_shell_is_refused_with_the_way_out(
    tmp_path: Path,
) -> None:
    shell = tmp_path / "chromium-headless-shell"
    shell.write_text("#!/bin/sh\n")
    shell.chmod(0o755)
    assert check_chromium(str(shell)) == shell
    with pytest.raises(ChromiumMissing, match=r"has no window.*SCRIPTCACHE_CHROMIUM_PATH"):
        check_chromium(str(shell), headless=False)
    with pytest.raises(ChromiumMissing, match="no Chromium executable at /nowhere"):
        check_chromium("/nowhere")


ROUTE = Block.model_validate(
    {
        "label": "route",
        "block_type": "conditional",
        "branches": [
            {"condition": "{{ action == 'refund' }}", "blocks": []},
            {"condition": "{{ action == 'support' }}", "blocks": []},
        ],
    }
)
ROUTE_WITH_ELSE = Block.model_validate(
    {
        "label": "route",
        "block_type": "conditional",
        "branches": [*ROUTE.model_dump()["branches"], {"condition": None, "blocks": []}],
    }
)


def render(values: dict[str, Any]) -> Any:
    return lambda template: jinja2.Environment().from_string(template).render(**values)


@pytest.mark.parametrize(
    ("block", "action", "expected"),
    [
        (ROUTE, "refund", 0),
        (ROUTE, "support", 1),
        (ROUTE, "other", -1),
        (ROUTE_WITH_ELSE, "other", 2),
        (ROUTE_WITH_ELSE, "support", 1),
    ],
)
def test_the_branch_is_the_first_whose_condition_renders_true(
    block: Block, action: str, expected: int
) -> None:
    assert choose_branch(block, render({"action": action})) == expected


@pytest.mark.parametrize(
    ("rendered", "expected"),
    [
        ("True", True),
        (" true\n", True),
        ("1", True),
        ("False", False),
        ("", False),
        ("None", False),
        ("maybe", None),
    ],
)
def test_rendered_conditions_are_true_false_or_neither(
    rendered: str, expected: bool | None
) -> None:
    assert truth(rendered) is expected


def test_a_condition_rendering_neither_true_nor_false_is_an_error_naming_the_block() -> None:
    block = Block.model_validate(
        {
            "label": "check",
            "block_type": "conditional",
            "branches": [{"condition": "{{ status }}", "blocks": []}],
        }
    )
    with pytest.raises(ReplayError, match=r"conditional 'check': branch 0 .* 'shipped'"):
        choose_branch(block, render({"status": "shipped"}))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["A", "B"], ["A", "B"]),
        (("A",), ["A"]),
        ('["A", "B"]', ["A", "B"]),
        ([], []),
    ],
)
def test_loop_values_are_a_list_or_a_json_array_in_text(values: Any, expected: list[Any]) -> None:
    assert loop_items("each", values) == expected


@pytest.mark.parametrize("values", ["A-1001", '{"a": 1}', {"a": 1}])
def test_loop_values_that_are_not_a_list_are_an_error(values: Any) -> None:
    with pytest.raises(ReplayError, match="loop 'each': expected a list"):
        loop_items("each", values)


@pytest.mark.parametrize("path", ["../evil.py", "/etc/evil.py", "blocks/../../evil.py"])
def test_a_revision_file_outside_the_script_directory_is_refused(tmp_path: Path, path: str) -> None:
    files = {"main.py": b"async def run_workflow(page, ctx):\n    pass\n", path: b""}
    with pytest.raises(ReplayError, match="outside its directory"):
        load_script(files, tmp_path / "script")


def test_a_main_py_without_run_workflow_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match="no async run_workflow"):
        load_script({"main.py": b"x = 1\n"}, tmp_path)
