"""The `scriptcache` command."""

from __future__ import annotations

import importlib
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from worker.cli.base import (
    WORKFLOW_VERSION,
    Context,
    echo_json,
    json_object,
    pass_ctx,
    read_events,
    read_events_or_reasons,
)
from worker.domain.errors import ScriptcacheError

# The command starts at once: a subcommand's module, and the libraries it needs (SQLAlchemy,
# Celery, boto3, Playwright), are imported when that subcommand runs, not for `--help`.
LAZY_COMMANDS = {
    # name: (module:attribute, the first paragraph of its help, which `--help` lists; a test
    # holds the two together). worker.cli.revisions adds pin ... audit to worker.cli.script's
    # `script` group, so `script` is taken from there.
    "script": (
        "worker.cli.revisions:script",
        "Inspect and steer cached scripts: history, files, diffs, exports; pin, promote,"
        " rollback, purge, audit.",
    ),
    "publish": (
        "worker.cli.publish:publish",
        "Send a JSON Lines file of events (or - for stdin) to the broker.",
    ),
    "import": (
        "worker.cli.importer:import_group",
        "Turn another agent's saved run into a definition and events (browser-use).",
    ),
    "dlq": ("worker.cli.ops:dlq", "The dead-letter queue: list, show, replay and purge entries."),
    "replay": (
        "worker.cli.replay:replay_command",
        "Replay the live (or given) revision of a workflow's script in headless Chromium.",
    ),
    "demo": (
        "worker.demo.sample:demo",
        "Publish the sample order-portal runs (refund branch, support branch, a loop) and print"
        " the resulting revisions and run plans; then run the closed loop",
    ),
}


class Group(click.Group):
    """The command group: errors of ours become one-line usage errors; the subcommands of
    LAZY_COMMANDS are imported only when asked for."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ScriptcacheError as exc:
            raise click.ClickException(str(exc)) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            module, _, attribute = LAZY_COMMANDS[cmd_name][0].partition(":")
            self.add_command(getattr(importlib.import_module(module), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        limit = formatter.width - 6 - max(map(len, self.list_commands(ctx)))
        for name in self.list_commands(ctx):
            if name in LAZY_COMMANDS and name not in self.commands:
                # click's own shortening of the help, without importing the command
                stand_in = click.Command(name, help=LAZY_COMMANDS[name][1])
                rows.append((name, stand_in.get_short_help_str(limit)))
            elif (command := self.get_command(ctx, name)) is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=Group)
def main() -> None:
    """scriptcache: turn agent workflow runs into cached, executable scripts."""


@main.command()
@pass_ctx
def migrate(obj: Context) -> None:
    """Create or upgrade the database schema (safe to run again)."""
    from worker.adapters.sql.migrate import upgrade

    upgrade(obj.services.engine)
    click.echo(f"schema up to date on {obj.services.engine.url.render_as_string()}")


@main.command("ingest")
@click.argument("source")
@click.option(
    "--generate",
    "and_generate",
    is_flag=True,
    help="Then decide and generate for every run touched, in-process.",
)
@pass_ctx
def ingest_command(obj: Context, source: str, and_generate: bool) -> None:
    """Record a JSON Lines file of events (or - for stdin) without a broker.

    A line that is not a valid event, or an event intake refuses (a block whose label is not
    in its run's definition), is set aside with its line number and reason, and the rest is
    recorded: `set_aside` in the summary, or one `set aside:` line each on stderr with
    --generate. With --generate, one JSON object per run: its result, or `error` naming why
    the run could not be generated; every run is tried, and the exit status is 1 if any
    failed.
    """
    from worker.app.generation import generate_now
    from worker.app.intake import record_only
    from worker.secrets.seals import SealKey

    services, seal_key = obj.services, SealKey(obj.settings.seal_keys)
    runs: dict[str, None] = {}  # the runs touched, in order
    set_aside: list[dict[str, Any]] = []
    recorded = 0
    for number, event in read_events_or_reasons(source):
        if isinstance(event, str):
            set_aside.append({"line": number, "reason": event})
            continue
        try:
            record_only(services.sessions, [event], seal_key)
        except ScriptcacheError as exc:
            set_aside.append({"line": number, "event_id": event.event_id, "reason": str(exc)})
            continue
        recorded += 1
        runs.setdefault(event.workflow_run_id, None)
    if not and_generate:
        echo_json(
            {
                "events": recorded,
                "runs": list(runs),
                **({"set_aside": set_aside} if set_aside else {}),
            }
        )
        return
    for item in set_aside:
        click.echo(f"set aside: {source}: line {item['line']}: {item['reason']}", err=True)
    failed = 0
    for run_id in runs:
        try:
            echo_json(
                generate_now(
                    services.sessions,
                    services.store,
                    run_id,
                    services.clock,
                    repairs_per_day=obj.settings.repairs_per_day,
                ).as_json()
            )
        except ScriptcacheError as exc:
            failed += 1
            echo_json({"workflow_run_id": run_id, "regenerated": False, "error": str(exc)})
    if failed:
        click.echo(f"{failed} of {len(runs)} runs failed", err=True)
        sys.exit(1)


@main.command()
@click.argument("source")
def render(source: str) -> None:
    """Print the main.py the events in SOURCE would produce with no prior cache."""
    from worker.adapters.sql import scripts as read
    from worker.adapters.sql.engine import make_engine, make_sessionmaker
    from worker.adapters.sql.migrate import upgrade
    from worker.adapters.store import open_store
    from worker.app.generation import generate_now
    from worker.app.intake import record_only
    from worker.secrets.seals import SealKey

    events = read_events(source)
    with tempfile.TemporaryDirectory(prefix="scriptcache-render-") as tmp:
        engine = make_engine(f"sqlite:///{tmp}/render.db")
        try:
            upgrade(engine)
            sessions, store = make_sessionmaker(engine), open_store("memory://")
            runs = record_only(sessions, events, SealKey.fresh())  # seals die with the db
            results = [generate_now(sessions, store, run_id) for run_id in runs]
            with sessions() as session:
                shown: set[int] = set()
                for result in results:
                    if result.script_id is None or result.script_id in shown:
                        continue
                    shown.add(result.script_id)
                    script = read.resolve_script(session, _wpid(session, result), result.cache_key)
                    files = read.read_files(store, read.select_revision(session, script, None))
                    click.echo(files["main.py"].decode("utf-8"), nl=False)
            if not shown:
                raise click.ClickException("these events produce no script (nothing cacheable ran)")
        finally:
            engine.dispose()


def _wpid(session: Any, result: Any) -> str:
    from worker.adapters.sql import models as m

    script = session.get(m.Script, result.script_id)
    return str(script.workflow_permanent_id)


@main.command("plan")
@click.argument("wpid")
@click.option("--params", default="{}", help="The run's parameters as a JSON object.")
@click.option(
    "--version", type=WORKFLOW_VERSION, default=None, help="Workflow version (default: latest)."
)
@pass_ctx
def plan_command(obj: Context, wpid: str, params: str, version: int | None) -> None:
    """The run plan for a workflow and parameters, as JSON."""
    from worker.adapters.sql import scripts as read

    parameters = json_object(params, "--params")
    with obj.services.sessions() as session:
        echo_json(read.run_plan(session, wpid, parameters, version))


@main.command("schemas")
@click.argument("directory", default="docs/schemas")
def schemas_command(directory: str) -> None:
    """Write the JSON Schemas of the events and the definition into DIRECTORY."""
    from worker.domain.schemas import write

    for path in write(Path(directory)):
        click.echo(f"wrote {path}")


if __name__ == "__main__":
    main()
