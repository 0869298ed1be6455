"""`scriptcache replay`: run a cached script in headless Chromium, block by block.

Needs the `browser` extra (Playwright) and a Chromium executable (SCRIPTCACHE_CHROMIUM_PATH,
default /usr/bin/chromium-headless-shell when installed, else /usr/bin/chromium). Blocks the
script hands to the agent or runs live cannot run here without an agent: they are reported
as skipped, and the replay goes on with the next block. With no agent to fall back to, a
recorded selector that is not found ends the replay with an error naming the block, the
action and the selector.

`--agent MODULE:NAME` plugs the platform's agent in (ARCHITECTURE.md §8); `--emit FILE|-`
writes the replayed run's events as JSON Lines and `--publish` sends them to the broker, so
that the blocks that fell back are repaired.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from worker.browser.journal import BlockFinished, BlockStarted, ReplayResult
from worker.cli.base import REVISION, Context, echo_json, json_object, pass_ctx
from worker.domain.definition import Definition, render_cache_key


@click.command("replay")
@click.argument("wpid")
@click.option("--params", default="{}", help="The run's parameters as a JSON object.")
@click.option(
    "--cache-key", default=None, help="The script's cache key (default: rendered from --params)."
)
@click.option(
    "--version", type=REVISION, default=None, help="Script revision to run (default: the live one)."
)
@click.option(
    "--credentials", default="{}", help="Credential values as a JSON object, or @FILE holding one."
)
@click.option(
    "--selector-timeout-s",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    help="How long each recorded selector is waited for.",
)
@click.option(
    "--chromium",
    "executable",
    default=None,
    help=(
        "Chromium executable (default: $SCRIPTCACHE_CHROMIUM_PATH, else "
        "/usr/bin/chromium-headless-shell when installed, else /usr/bin/chromium)."
    ),
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per event and summary.")
@click.option(
    "--agent",
    "agent_spec",
    default=None,
    metavar="MODULE:NAME",
    help="The agent to fall back to: an object with act() and run_block(), or a "
    "class or function making one.",
)
@click.option(
    "--emit",
    "emit_to",
    default=None,
    metavar="FILE|-",
    help="Write the replayed run's events (JSON Lines) to FILE, or stdout.",
)
@click.option("--publish", is_flag=True, help="Send the replayed run's events to the broker.")
@click.option(
    "--run-id",
    default=None,
    help="The replayed run's workflow_run_id (default: a fresh wr_<uuid>).",
)
@click.option(
    "--no-relocate",
    "no_relocate",
    is_flag=True,
    help="Do not look for a moved element (worker/runtime/matcher.py): its action goes to "
    "the agent (or fails).",
)
@pass_ctx
def replay_command(
    obj: Context,
    wpid: str,
    params: str,
    cache_key: str | None,
    version: int | None,
    credentials: str,
    selector_timeout_s: float,
    executable: str | None,
    as_json: bool,
    agent_spec: str | None,
    emit_to: str | None,
    publish: bool,
    run_id: str | None,
    no_relocate: bool,
) -> None:
    """Replay the live (or given) revision of a workflow's script in headless Chromium."""
    try:
        from worker.browser import agent as agents
        from worker.browser import emit, page, replay
    except ImportError as exc:  # the optional extra is missing
        raise click.ClickException(
            f"replay needs Playwright: pip install 'scriptcache[browser]' ({exc})"
        ) from None
    try:
        plugged = None if agent_spec is None else agents.load_agent(agent_spec)
    except agents.AgentNotFound as exc:
        raise click.BadParameter(str(exc), param_hint="--agent") from None
    out = _Output(as_json, quiet=emit_to == "-")
    parameters = json_object(params, "--params")
    secrets = json_object(_read_at_file(credentials), "--credentials")

    def load() -> _Loaded:
        return _load(obj, wpid, cache_key, version, parameters, secrets)

    async def run(loaded: _Loaded) -> Any:
        header = loaded.header
        if not as_json:
            out.echo(
                f"replaying {wpid} script {header['script_id']} v{header['version']}"
                f" (cache key {header['cache_key']!r})"
            )
        info = emit.RunInfo(
            wpid,
            loaded.workflow_version,
            header["script_id"],
            header["version"],
            parameters,
            secrets,
            run_id or emit.new_run_id(),
        )
        return info, await replay.replay_and_emit(
            loaded.files,
            loaded.definition,
            parameters,
            secrets,
            info=info,
            chromium_path=chromium,
            hooks=replay.Hooks(extractor=page.page_text, observer=out.observe),
            selector_timeout_s=selector_timeout_s,
            agent=plugged,
            optional_timeout_s=obj.settings.optional_wait_s,
            relocate=not no_relocate,
        )

    chromium = executable or obj.settings.chromium_path
    loaded, (info, replayed) = asyncio.run(_with_chromium_starting(chromium, load, run))
    header = loaded.header
    result = replayed.result
    if as_json:
        out.json(
            {"summary": {**header, **result.as_json(), "workflow_run_id": info.workflow_run_id}}
        )
    else:
        out.echo(summary(result))
    if emit_to is not None:
        _write_events(emit_to, replayed.events)
    if publish:
        from worker.adapters.publisher import producer_app, publish_events

        sent = publish_events(producer_app(obj.settings.broker_url), replayed.events)
        out.echo(f"published {sent} events of run {info.workflow_run_id}")
    if not result.ok:
        raise click.ClickException(f"replay failed: {result.error}")
    if result.undone:
        undone = ", ".join(dict.fromkeys(result.undone))
        click.echo(
            f"replay incomplete: {len(result.undone)} blocks left undone ({undone}): a block"
            " not cached yet needs an agent (--agent), a block that runs live needs the platform",
            err=True,
        )
        raise click.exceptions.Exit(result.exit_status)


@dataclasses.dataclass(frozen=True)
class _Loaded:
    """What a replay needs from the database and the store."""

    header: dict[str, Any]
    workflow_version: int
    definition: Definition
    files: dict[str, bytes]


def _load(
    obj: Context,
    wpid: str,
    cache_key: str | None,
    version: int | None,
    parameters: dict[str, Any],
    secrets: dict[str, Any],
) -> _Loaded:
    from worker.adapters.sql import models as m
    from worker.adapters.sql import scripts as read

    services = obj.services
    with services.sessions() as session:
        _, latest = read.workflow_definition(session, wpid, None)
        key = cache_key if cache_key is not None else render_cache_key(latest, parameters)
        script = read.resolve_script(session, wpid, key)
        revision = read.select_revision(session, script, version)
        row = session.get(m.ScriptRevision, revision.revision_id)
        assert row is not None  # select_revision just read it
        _, definition = read.workflow_definition(session, wpid, row.workflow_version)
    _check_inputs(definition, revision.entries.values(), parameters, secrets)
    header = {
        "workflow_permanent_id": wpid,
        "cache_key": key,
        "script_id": revision.script_id,
        "version": revision.version,
    }
    files = read.read_files(services.store, revision)
    return _Loaded(header, row.workflow_version, definition, dict(files))


T = TypeVar("T")


async def _with_chromium_starting(
    chromium: str, load: Callable[[], _Loaded], run: Callable[[_Loaded], Awaitable[T]]
) -> tuple[_Loaded, T]:
    """Start Chromium at once and read the script from the database meanwhile (its second or
    so of start overlaps the reads); then replay in it. A reading error (an unknown workflow,
    a missing credential) is raised as it is, and the browser closed."""
    from worker.browser.chromium import WarmChromium, using

    starting = asyncio.create_task(WarmChromium(chromium).start())
    try:
        loaded = await asyncio.to_thread(load)
    except BaseException:
        with contextlib.suppress(Exception):
            await (await starting).close()
        raise
    browser = await starting
    try:
        async with using(browser):
            return loaded, await run(loaded)
    finally:
        await browser.close()


def _check_inputs(
    definition: Definition, entries: Any, parameters: dict[str, Any], secrets: dict[str, Any]
) -> None:
    """Fail before replaying when the script reads a value nobody gave."""
    credential_keys = definition.credential_keys()
    needed = {key for entry in entries for key in entry.input_fields}
    missing_secrets = sorted(k for k in needed & credential_keys if k not in secrets)
    missing_params = sorted(k for k in needed - credential_keys if k not in parameters)
    if missing_secrets:
        raise click.BadParameter(
            f"missing credentials: {', '.join(missing_secrets)}", param_hint="--credentials"
        )
    if missing_params:
        raise click.BadParameter(
            f"missing parameters: {', '.join(missing_params)}", param_hint="--params"
        )


def summary(result: ReplayResult) -> str:
    lines = [
        f"{'done' if result.ok else 'FAILED'} in {result.duration_s:.2f} s: "
        f"{result.count('code')} from code, {result.count('fallback')} with fallback, "
        f"{result.count('skipped')} skipped, {result.count('failed')} failed; "
        f"{len(result.extracted)} extracted"
    ]
    lines += [
        f"  fallback: {f.label} {f.action} {f.selector!r} ({f.intention!r}): {f.error}"
        for f in result.fallbacks
    ]
    lines += [
        f"  relocated: {r.label} {r.action} {r.selector!r} -> {r.xpath!r} ({r.intention!r})"
        for r in result.relocations
    ]
    return "\n".join(lines)


class _Output:
    """Progress for a person (or JSON), on stderr when stdout carries the emitted events."""

    def __init__(self, as_json: bool, quiet: bool) -> None:
        self.as_json, self.err = as_json, quiet

    def echo(self, text: str) -> None:
        click.echo(text, err=self.err)

    def json(self, value: Any) -> None:
        if self.err:
            click.echo(json.dumps(value, sort_keys=True, default=str), err=True)
        else:
            echo_json(value)

    def observe(self, event: BlockStarted | BlockFinished) -> None:
        if self.as_json:
            kind = "block_started" if isinstance(event, BlockStarted) else "block_finished"
            self.json({"event": kind, **dataclasses.asdict(event)})
            return
        where = event.label if event.loop_index is None else f"{event.label} #{event.loop_index}"
        if isinstance(event, BlockStarted):
            self.echo(f"start  {where}")
            return
        detail = f"  ({event.detail})" if event.detail else ""
        self.echo(f"end    {where}: {event.outcome} in {event.duration_s:.2f} s{detail}")


def _write_events(target: str, events: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(e, ensure_ascii=False, sort_keys=True) + "\n" for e in events)
    if target == "-":
        click.echo(text, nl=False)
    else:
        Path(target).write_text(text, encoding="utf-8")


def _read_at_file(raw: str) -> str:
    if not raw.startswith("@"):
        return raw
    try:
        return Path(raw[1:]).read_text(encoding="utf-8")
    except OSError as exc:
        raise click.BadParameter(
            f"cannot read {raw[1:]}: {exc.strerror}", param_hint="--credentials"
        ) from None
