"""`scriptcache dlq ls|show|replay|purge`: the dead-letter queue."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from worker.adapters.publisher import producer_app
from worker.adapters.sql import models as m
from worker.app import deadletter
from worker.cli.base import ENTRY_ID, Context, echo_json, pass_ctx


@click.group()
def dlq() -> None:
    """The dead-letter queue: list, show, replay and purge entries."""


filters = [
    click.option("--task", "task_name", default=None, help="Only entries of this task name."),
    click.option("--run", "run_id", default=None, help="Only entries of this workflow run."),
    click.option("--error", "error_contains", default=None, help="Only errors containing this."),
]


def with_filters(fn: Any) -> Any:
    for option in reversed(filters):
        fn = option(fn)
    return fn


@dlq.command("ls")
@with_filters
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def dlq_ls(
    obj: Context,
    task_name: str | None,
    run_id: str | None,
    error_contains: str | None,
    as_json: bool,
) -> None:
    """List dead-lettered messages."""
    where = deadletter.Filter(task_name, run_id, error_contains)
    with obj.services.sessions() as session:
        rows = [_row(e, full=False) for e in deadletter.entries(session, where)]
    if as_json:
        echo_json(rows)
        return
    table = Table(title=f"dead-letter queue: {len(rows)} entries")
    for column in ("id", "task", "run", "attempts", "failed at", "error"):
        table.add_column(column, overflow="fold")
    for r in rows:
        cells = (
            str(r["id"]),
            r["task_name"],
            r["workflow_run_id"] or "",
            str(r["attempts"]),
            r["failed_at"],
            r["error"][:120],
        )
        table.add_row(*(escape(c) for c in cells))  # payload text is not rich markup
    Console().print(table)


@dlq.command("show")
@click.argument("entry_id", type=ENTRY_ID)
@pass_ctx
def dlq_show(obj: Context, entry_id: int) -> None:
    """Show one entry: payload (redacted), error and traceback, as JSON."""
    with obj.services.sessions() as session:
        entry = session.get(m.DeadLetter, entry_id)
        if entry is None:
            raise click.ClickException(f"no dead-letter entry {entry_id}")
        echo_json(_row(entry, full=True))


def _row(e: m.DeadLetter, *, full: bool) -> dict[str, Any]:
    row = {
        "id": e.dead_letter_id,
        "task_name": e.task_name,
        "workflow_run_id": e.workflow_run_id,
        "event_id": e.event_id,
        "attempts": e.attempts,
        "failed_at": e.failed_at.isoformat(),
        "error": e.error,
    }
    if full:
        row.update(payload=e.payload, traceback=e.traceback)
    return row


@dlq.command("replay")
@click.argument("entry_ids", type=ENTRY_ID, nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every entry (or every match).")
@with_filters
@pass_ctx
def dlq_replay(
    obj: Context,
    entry_ids: tuple[int, ...],
    replay_all: bool,
    task_name: str | None,
    run_id: str | None,
    error_contains: str | None,
) -> None:
    """Re-publish entries; each is removed only after its publish succeeded."""
    where = deadletter.Filter(task_name, run_id, error_contains)
    services = obj.services
    if not entry_ids:
        if not (replay_all or task_name or run_id or error_contains):
            raise click.UsageError("name entries by id, or use --all and/or a filter")
        with services.sessions() as session:
            entry_ids = tuple(e.dead_letter_id for e in deadletter.entries(session, where))
    send = deadletter.republisher(services.sessions, producer_app(obj.settings.broker_url))
    failed = 0
    with Progress(disable=len(entry_ids) < 20, transient=True) as progress:
        bar = progress.add_task("replaying", total=len(entry_ids))
        for entry_id, error in deadletter.replay(services.sessions, entry_ids, send):
            progress.advance(bar)
            if error is not None:
                failed += 1
                click.echo(f"entry {entry_id}: not replayed: {error}", err=True)
    click.echo(f"replayed {len(entry_ids) - failed} of {len(entry_ids)} entries")
    if failed:
        sys.exit(1)


@dlq.command("purge")
@click.argument("entry_ids", type=ENTRY_ID, nargs=-1)
@click.option("--all", "purge_all", is_flag=True, help="Purge every entry (or every match).")
@with_filters
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def dlq_purge(
    obj: Context,
    entry_ids: tuple[int, ...],
    purge_all: bool,
    task_name: str | None,
    run_id: str | None,
    error_contains: str | None,
    yes: bool,
) -> None:
    """Delete entries for good."""
    where = deadletter.Filter(task_name, run_id, error_contains)
    if not entry_ids:
        if not (purge_all or task_name or run_id or error_contains):
            raise click.UsageError("name entries by id, or use --all and/or a filter")
        with obj.services.sessions() as session:  # read only: no transaction across the prompt
            entry_ids = tuple(e.dead_letter_id for e in deadletter.entries(session, where))
    if entry_ids and not yes:
        click.confirm(f"purge {len(entry_ids)} entries?", abort=True)
    with obj.services.sessions.begin() as session:
        removed = deadletter.remove(session, entry_ids)
    click.echo(f"purged {removed} entries")
