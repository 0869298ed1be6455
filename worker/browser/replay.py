"""Load a revision's main.py from its files and run it, block by block, into a journal.

`replay_and_emit` is the platform's API: the revision run with its agent plugged in, and
the run's events (ARCHITECTURE.md §8) to publish.

The script is written to a directory and imported from there under a private module name.
Every function the script registered with `@block(label)` is wrapped in the module's
namespace, so `run_workflow` calls the wrapper: the journal learns when each cached block
starts and ends, and whether any of its actions fell back. So is every helper of a task_v2
block marked `@block(label, block_type=..., child=True)`: each call is a child block run of
the task_v2 with its own actions, fallback and extracted data. A child whose code raises
fails, and the task_v2 around it is handed to the agent whole.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import inspect
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

from worker.browser.agent import Agent
from worker.browser.chromium import open_page
from worker.browser.context import BlockHook, BrowserRunContext
from worker.browser.emit import RunInfo, emit_events
from worker.browser.journal import (
    BlockRecord,
    Journal,
    Observer,
    Outcome,
    ReplayResult,
    first_line,
)
from worker.browser.page import (
    DEFAULT_OPTIONAL_TIMEOUT_S,
    DEFAULT_SELECTOR_TIMEOUT_S,
    BrowserPage,
    ExtractorHook,
    FallbackHook,
    OutcomeFailed,
    ReplayError,
)
from worker.domain.definition import Definition
from worker.runtime import BlockFunction, child_of

_OBSERVED = "__scriptcache_observed__"


def load_script(files: Mapping[str, bytes], directory: Path) -> ModuleType:
    """Write a revision's files under `directory` and import its main.py."""
    if "main.py" not in files:
        raise ReplayError("the revision has no main.py")
    for path, data in files.items():
        relative = PurePosixPath(path)
        if relative.is_absolute() or ".." in relative.parts:
            raise ReplayError(f"the revision holds a file outside its directory: {path!r}")
        target = directory.joinpath(*relative.parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    digest = hashlib.sha256(files["main.py"]).hexdigest()[:16]
    spec = importlib.util.spec_from_file_location(
        f"scriptcache_replay_{digest}", directory / "main.py"
    )
    if spec is None or spec.loader is None:
        raise ReplayError(f"cannot import {directory / 'main.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not inspect.iscoroutinefunction(getattr(module, "run_workflow", None)):
        raise ReplayError("main.py defines no async run_workflow(page, ctx)")
    return module


def instrument(module: ModuleType, journal: Journal) -> list[str]:
    """Wrap the module's block functions (and task_v2 children's helpers) so the journal
    sees them; returns the labels of the block functions."""
    namespace = vars(module)
    labels = []
    for name, fn in list(namespace.items()):
        if not inspect.iscoroutinefunction(fn) or getattr(fn, _OBSERVED, False):
            continue
        label = getattr(fn, "__block_label__", None)
        if isinstance(label, str):
            namespace[name] = _observed(label, fn, journal)
            labels.append(label)
        elif (child := child_of(fn)) is not None:
            namespace[name] = _child_observed(*child, fn, journal)
    return labels


def _child_observed(
    label: str, block_type: str, fn: BlockFunction, journal: Journal
) -> BlockFunction:
    """A task_v2 child's helper, journaled as a child block of the task_v2 running it."""

    @functools.wraps(fn)
    async def run(page: Any, ctx: Any, *args: Any, **kwargs: Any) -> None:
        loop_index = getattr(ctx, "current_index", None)
        started_at = journal.started(
            label,
            loop_index,
            loop_value=getattr(ctx, "current_value", None),
            url=getattr(getattr(page, "page", None), "url", None),
            block_type=block_type,
        )
        fallbacks = len(journal.fallbacks)
        outcome: Outcome = "failed"
        detail = None
        record = journal.current
        try:
            await fn(page, ctx, *args, **kwargs)
            outcome = "fallback" if len(journal.fallbacks) > fallbacks else "code"
            if record is not None and isinstance(page, BrowserPage):
                record.page = await page.state(places=_relearn(record))
        except Exception as exc:
            detail = first_line(exc)
            raise
        finally:
            journal.finished(label, loop_index, outcome, started_at, detail)

    setattr(run, _OBSERVED, True)
    return run


def _observed(label: str, fn: BlockFunction, journal: Journal) -> BlockFunction:
    """The block function, journaled; when its cached code raises and the context has an
    agent, the agent runs the whole block (a block-level fallback)."""

    @functools.wraps(fn)
    async def run(page: Any, ctx: Any, *args: Any, **kwargs: Any) -> None:
        loop_index = getattr(ctx, "current_index", None)
        browser = getattr(page, "page", None)
        started_at = journal.started(
            label,
            loop_index,
            loop_value=getattr(ctx, "current_value", None),
            url=getattr(browser, "url", None),
        )
        record = journal.current
        fallbacks = len(journal.fallbacks)
        outcome: Outcome = "failed"
        detail = None
        try:
            try:
                await fn(page, ctx, *args, **kwargs)
                if record is not None and isinstance(page, BrowserPage):
                    record.page = await page.state(places=_relearn(record))
            except Exception as exc:
                if not (
                    isinstance(ctx, BrowserRunContext)
                    and ctx.page.agent is not None
                    and record is not None
                ):
                    raise
                record.fallback = "block"
                # The agent sees the page as the block left it and judges it: a site that
                # changed its titles is one to learn from (its run is recorded), a rejected
                # login one to report as failed (docs/RUNTIME.md "When a check fails").
                # After a failed check the script's actions all ran: they stay in the record
                # when the agent does nothing more (it judges the block done on today's site).
                failed = isinstance(exc, OutcomeFailed)
                reason = "its outcome check failed" if failed else "its cached code raised"
                await ctx.hand_to_agent(label, f"{reason}: {first_line(exc)}", record, keep=failed)
            outcome = (
                "fallback"
                if len(journal.fallbacks) > fallbacks
                or (record is not None and record.fallback == "block")
                else "code"
            )
        except Exception as exc:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise
        finally:
            journal.finished(label, loop_index, outcome, started_at, detail)

    setattr(run, _OBSERVED, True)
    return run


def _relearn(record: BlockRecord) -> bool:
    """Whether a block that ran from code records where its output was on the page: only
    when its events will repair it (it fell back, or its reader left fields unread)."""
    return record.fallback != "none" or bool(record.unread)


async def run_script(module: ModuleType, ctx: BrowserRunContext) -> ReplayResult:
    """Await the script's run_workflow; a failure ends the replay and is in the result."""
    journal = ctx.journal
    instrument(module, journal)
    started_at, wall = journal.clock(), journal.wall_clock()
    try:
        await module.run_workflow(ctx.page, ctx)
    except Exception as exc:
        return journal.result(journal.clock() - started_at, exc, wall)
    return journal.result(journal.clock() - started_at, started_at=wall)


@dataclass(frozen=True)
class Hooks:
    """What the platform plugs in; each is optional (see BrowserPage, BrowserRunContext)."""

    fallback: FallbackHook | None = None
    extractor: ExtractorHook | None = None
    block_hook: BlockHook | None = None
    observer: Observer | None = None


async def replay_revision(
    files: Mapping[str, bytes],
    definition: Definition,
    parameters: Mapping[str, Any],
    credentials: Mapping[str, Any],
    *,
    chromium_path: str,
    hooks: Hooks = Hooks(),
    selector_timeout_s: float = DEFAULT_SELECTOR_TIMEOUT_S,
    headless: bool = True,
    agent: Agent | None = None,
    optional_timeout_s: float = DEFAULT_OPTIONAL_TIMEOUT_S,
    relocate: bool = True,
) -> ReplayResult:
    """Run a revision's main.py in a fresh headless Chromium; the script's files live in a
    temporary directory for the duration. With an `agent`, failed actions and blocks fall
    back to it, and blocks not cached yet are run by it. `relocate=False`: a moved element
    is not looked for elsewhere (worker/browser/page.py), its action goes to the agent."""
    with tempfile.TemporaryDirectory(prefix="scriptcache-replay-") as tmp:
        module = load_script(files, Path(tmp))
        devtools = bool(getattr(agent, "needs_devtools", False))
        async with open_page(chromium_path, headless=headless, devtools=devtools) as browser_page:
            page = BrowserPage(
                browser_page,
                Journal(hooks.observer),
                fallback=hooks.fallback,
                extractor=hooks.extractor,
                selector_timeout_s=selector_timeout_s,
                agent=agent,
                optional_timeout_s=optional_timeout_s,
                relocate=relocate,
            )
            ctx = BrowserRunContext(
                page, definition, parameters, credentials, block_hook=hooks.block_hook
            )
            return await run_script(module, ctx)


@dataclass(frozen=True)
class Replayed:
    """A replay and its events in the producer contract (worker/browser/emit.py)."""

    result: ReplayResult
    events: list[dict[str, Any]]


async def replay_and_emit(
    files: Mapping[str, bytes],
    definition: Definition,
    parameters: Mapping[str, Any],
    credentials: Mapping[str, Any],
    *,
    info: RunInfo,
    chromium_path: str,
    agent: Agent | None = None,
    hooks: Hooks = Hooks(),
    selector_timeout_s: float = DEFAULT_SELECTOR_TIMEOUT_S,
    optional_timeout_s: float = DEFAULT_OPTIONAL_TIMEOUT_S,
    headless: bool = True,
    relocate: bool = True,
) -> Replayed:
    """The platform's call: run the revision with its agent plugged in, and get back the
    run's events to publish (`worker.adapters.publisher.publish_events`), so that whatever fell back
    is repaired by the next generation. `info` names the run and the revision."""
    result = await replay_revision(
        files,
        definition,
        parameters,
        credentials,
        chromium_path=chromium_path,
        hooks=hooks,
        selector_timeout_s=selector_timeout_s,
        headless=headless,
        agent=agent,
        optional_timeout_s=optional_timeout_s,
        relocate=relocate,
    )
    return Replayed(result, emit_events(result, definition, info))
