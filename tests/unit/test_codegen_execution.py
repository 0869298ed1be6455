"""A generated main.py, imported and run against RecordingPage, replays the recording."""

from __future__ import annotations

import asyncio
import importlib.util
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

from tests.recordings import sample_runs
from worker.domain.codegen import GeneratedScript, generate_script
from worker.domain.decision import executed_labels
from worker.runtime import Call, InMemoryRunContext, RecordingPage, blocks_of

START = "Open the block's start page"
SCHEMA = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "total": {"type": "number"}},
}
PARAMETERS = {"username": "grace@acme.test", "order_numbers": ["B-1", "B-2"]}
CREDENTIALS = {"password": "from-the-vault"}


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"generated_{path.stem}_{id(path)}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write(script: GeneratedScript, tmp_path: Path) -> None:
    for rel, data in script.files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)


def context(branch: int) -> tuple[RecordingPage, InMemoryRunContext]:
    page = RecordingPage()
    return page, InMemoryRunContext(page, PARAMETERS, CREDENTIALS, branches={"route": branch})


def sign_in_calls() -> list[Call]:
    return [
        Call("goto", ("https://portal.acme.test/login",), START),
        Call("fill", ("//input[@name='username']", "grace@acme.test"), "Type the username"),
        Call("fill", ("//input[@name='password']", "from-the-vault"), "Type the password"),
        Call("click", ("//button[normalize-space()='Sign in']",), "Submit the sign-in form"),
    ]


def order_calls(order: str) -> list[Call]:
    return [
        Call("goto", ("https://portal.acme.test/orders",), START),
        # Only one recorded iteration closed the banner: optional in every iteration.
        Call(
            "click",
            ("//button[@aria-label='Dismiss cookie banner']",),
            "Close the cookie banner",
            optional=True,
        ),
        Call("fill", ("//input[@placeholder='Order number']", order), "Type the order number"),
        Call("press", (None, "Enter"), "Press Enter to search"),
        Call("click", (f"//a[contains(@href, '/orders/{order}')]",), "Open the matching order"),
        Call("extract", ("Extract the order status and total", SCHEMA), "Read status and total"),
    ]


def test_run_workflow_replays_the_recorded_actions_with_values_from_the_context(
    tmp_path: Path,
) -> None:
    run = sample_runs()[0]
    write(generate_script(run, executed_labels(run), {}), tmp_path)
    module = load(tmp_path / "main.py")
    page, ctx = context(branch=0)
    asyncio.run(module.run_workflow(page, ctx))
    assert page.calls == [
        *sign_in_calls(),
        *order_calls("B-1"),
        *order_calls("B-2"),
        Call("goto", ("https://portal.acme.test/refunds/new",), START),
        Call("select_option", ("//select[@id='reason']", "damaged"), "Choose the refund reason"),
        Call("click", ("//button[@type='submit']",), "Submit the refund request"),
    ]
    assert ctx.events == [("loop", "each_order"), ("branch", "route"), ("run_live", "settle")]
    assert set(blocks_of(module)) == {"sign_in", "open_order", "read_order", "request_refund"}


def test_the_branch_not_cached_is_handed_to_the_agent(tmp_path: Path) -> None:
    run = sample_runs()[0]
    write(generate_script(run, executed_labels(run), {}), tmp_path)
    page, ctx = context(branch=1)
    asyncio.run(load(tmp_path / "main.py").run_workflow(page, ctx))
    assert ("run_agent", "contact_support") in ctx.events
    assert not any(c.method == "select_option" for c in page.calls)


def test_each_run_signature_runs_its_block_from_its_own_block_file(tmp_path: Path) -> None:
    run = sample_runs()[0]
    script = generate_script(run, executed_labels(run), {})
    write(script, tmp_path)
    for label, expected in (
        ("sign_in", sign_in_calls()),
        ("each_order", order_calls("B-1") + order_calls("B-2")),
    ):
        row = script.blocks[label]
        assert row.path is not None and row.run_signature is not None
        namespace: dict[str, Any] = vars(load(tmp_path / row.path))
        runner = "async def _run(page, ctx):\n" + textwrap.indent(row.run_signature, "    ")
        exec(compile(runner, "<run_signature>", "exec"), namespace)
        page, ctx = context(branch=0)
        asyncio.run(namespace["_run"](page, ctx))
        assert page.calls == expected, label
