"""`scriptcache script pin|unpin|promote|rollback|purge|audit`: operators steer revisions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from worker.app import purge as purging
from worker.app import revisions
from worker.cli.base import REVISION, Context, echo_json, pass_ctx
from worker.cli.script import cache_key_option, script

F = TypeVar("F", bound=Callable[..., Any])


def operator_options(command: F) -> F:
    """`--by`, `--why` and `--json`, shared by every steering command."""
    for option in reversed(
        (
            click.option(
                "--by", default=None, help="Who acts, for the audit (default: the OS user)."
            ),
            click.option("--why", default=None, help="Why, for the audit."),
            click.option("--json", "as_json", is_flag=True, help="Machine-readable output."),
        )
    ):
        command = option(command)
    return command


def _operator(by: str | None, why: str | None) -> revisions.Operator:
    return revisions.Operator(by or revisions.os_user(), why)


def _say(moved: revisions.Moved, as_json: bool) -> None:
    if as_json:
        echo_json(moved.as_json())
        return
    where = f"{moved.workflow_permanent_id} [{moved.cache_key}] script {moved.script_id}"
    change = (
        f"v{moved.to_version}"
        if moved.from_version == moved.to_version
        else f"v{moved.from_version} -> v{moved.to_version}"
    )
    state = "pinned" if moved.pinned else "not pinned"
    click.echo(f"{moved.action}: {where}: live {change}, {state} (audit {moved.audit_id})")


@script.command()
@click.argument("wpid")
@cache_key_option
@click.option(
    "--version",
    type=REVISION,
    default=None,
    help="Make this revision live and pin it (default: pin the live one).",
)
@operator_options
@pass_ctx
def pin(
    obj: Context,
    wpid: str,
    cache_key: str | None,
    version: int | None,
    by: str | None,
    why: str | None,
    as_json: bool,
) -> None:
    """Pin the live revision: new revisions become candidates, never live by themselves."""
    _say(
        revisions.pin(obj.services.sessions, wpid, cache_key, version, _operator(by, why)), as_json
    )


@script.command()
@click.argument("wpid")
@cache_key_option
@operator_options
@pass_ctx
def unpin(
    obj: Context, wpid: str, cache_key: str | None, by: str | None, why: str | None, as_json: bool
) -> None:
    """Let generation move the live revision again (candidates stay candidates)."""
    _say(revisions.unpin(obj.services.sessions, wpid, cache_key, _operator(by, why)), as_json)


@script.command()
@click.argument("wpid")
@click.argument("version", type=REVISION)
@cache_key_option
@operator_options
@pass_ctx
def promote(
    obj: Context,
    wpid: str,
    version: int,
    cache_key: str | None,
    by: str | None,
    why: str | None,
    as_json: bool,
) -> None:
    """Make revision VERSION (a candidate or an older one) live."""
    _say(
        revisions.promote(obj.services.sessions, wpid, cache_key, version, _operator(by, why)),
        as_json,
    )


@script.command()
@click.argument("wpid")
@click.argument("version", type=REVISION)
@cache_key_option
@operator_options
@pass_ctx
def rollback(
    obj: Context,
    wpid: str,
    version: int,
    cache_key: str | None,
    by: str | None,
    why: str | None,
    as_json: bool,
) -> None:
    """Make an older revision VERSION live; the next generation builds on it."""
    _say(
        revisions.rollback(obj.services.sessions, wpid, cache_key, version, _operator(by, why)),
        as_json,
    )


@script.command()
@click.argument("wpid")
@cache_key_option
@click.option("--all-keys", is_flag=True, help="Every cache key of the workflow.")
@click.option(
    "--runs",
    is_flag=True,
    help="Also remove the recorded runs (of the cache key, or all with --all-keys).",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@operator_options
@pass_ctx
def purge(
    obj: Context,
    wpid: str,
    cache_key: str | None,
    all_keys: bool,
    runs: bool,
    yes: bool,
    by: str | None,
    why: str | None,
    as_json: bool,
) -> None:
    """Remove a script's revisions, files and rows, then every blob no other revision
    references."""
    if all_keys and cache_key is not None:
        raise click.UsageError("--cache-key and --all-keys exclude each other")
    services = obj.services
    target = purging.target_for(services.sessions, wpid, cache_key, all_keys, runs)
    shown = purging.preview(services.sessions, target)  # its session is closed again
    if not yes:
        for s in shown.scripts:
            click.echo(
                f"script {s['script_id']} [{s['cache_key']}]: {s['revisions']} "
                f"revisions (live v{s['live_version']})",
                err=True,
            )
        click.echo(f"{shown.files} files; {len(shown.runs)} recorded runs", err=True)
        if not click.confirm(f"purge these from {wpid!r}?", err=True):
            raise click.ClickException("purge canceled: nothing was removed")
    result = purging.purge(services.sessions, services.store, target, _operator(by, why))
    if as_json:
        echo_json(result.as_json())
        return
    keys = ", ".join(repr(s["cache_key"]) for s in result.scripts) or "none"
    click.echo(
        f"purged {wpid} (cache keys {keys}): {result.revisions} revisions, "
        f"{result.files} files, {result.blobs_deleted} blobs deleted "
        f"({result.blobs_kept} kept, still referenced), {result.runs} runs"
    )


@script.command()
@click.argument("wpid")
@cache_key_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def audit(obj: Context, wpid: str, cache_key: str | None, as_json: bool) -> None:
    """The operator actions on a workflow's scripts, oldest first."""
    rows = revisions.audit_rows(obj.services.sessions, wpid, cache_key)
    if as_json:
        echo_json(rows)
        return
    table = Table(title=escape(f"{wpid}: operator actions"))
    for column in ("at", "by", "action", "cache key", "script", "versions", "why"):
        table.add_column(column)
    for r in rows:
        versions = _versions(r["action"], r["from_version"], r["to_version"])
        table.add_row(
            r["at"],
            escape(r["by"]),
            r["action"],
            escape(str(r["cache_key"])),
            str(r["script_id"] or ""),
            versions,
            escape(r["why"] or ""),
        )
    Console().print(table)


def _versions(action: str, before: int | None, after: int | None) -> str:
    def v(n: int | None) -> str:
        return "none" if n is None else f"v{n}"

    if action == "purge":
        return f"{v(before)} -> purged"
    return v(after) if before == after else f"{v(before)} -> {v(after)}"
