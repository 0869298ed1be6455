"""`scriptcache script history|show|diff|export`."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from worker.adapters.sql import cache
from worker.adapters.sql import scripts as read
from worker.cli.base import REVISION, Context, pass_ctx
from worker.domain.codegen.checks import block_checks

cache_key_option = click.option(
    "--cache-key", default=None, help="The script's cache key (needed when there are several)."
)


@click.group()
def script() -> None:
    """Inspect and steer cached scripts: history, files, diffs, exports; pin, promote,
    rollback, purge, audit."""


@script.command()
@click.argument("wpid")
@cache_key_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def history(obj: Context, wpid: str, cache_key: str | None, as_json: bool) -> None:
    """The revisions of a workflow's script, oldest first."""
    services = obj.services
    with services.sessions() as session:
        target = read.resolve_script(session, wpid, cache_key)
        rows = read.history_rows(session, target)
    if as_json:
        click.echo(json.dumps(rows, sort_keys=True))
        return
    # Recorded values are data, not rich markup: "[eu]" would vanish, "[/x]" would crash.
    pinned = " (pinned)" if target.pinned else ""
    table = Table(
        title=escape(f"{wpid} [{target.cache_key_value}] script {target.script_id}{pinned}")
    )
    for column in (
        "version",
        "status",
        "cached blocks",
        "workflow version",
        "source run",
        "content sha256",
        "created",
    ):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r["version"]),
            "live" if r["live"] else "candidate" if r["candidate"] else "",
            str(r["cached_blocks"]),
            str(r["workflow_version"]),
            escape(r["source_workflow_run_id"]),
            r["content_sha256"][:12],
            r["created_at"],
        )
    Console().print(table)
    if target.repair_held_at is not None:  # plain text: recorded labels are not markup
        click.echo(
            f"last repair held back: {target.repair_held_at.isoformat()} "
            f"(run {target.repair_held_run}): {target.repair_held_reason}"
        )


@script.command()
@click.argument("wpid")
@cache_key_option
@click.option("--version", type=REVISION, default=None, help="Revision version (default: live).")
@click.option("--file", "path", default="main.py", show_default=True)
@click.option(
    "--inputs",
    "list_inputs",
    is_flag=True,
    help="List what each block enters: bound to the run, or literal as recorded.",
)
@click.option(
    "--checks",
    "list_checks",
    is_flag=True,
    help="Each block's outcome check and what its extractions read.",
)
@click.option("--json", "as_json", is_flag=True, help="With --inputs: machine-readable.")
@pass_ctx
def show(
    obj: Context,
    wpid: str,
    cache_key: str | None,
    version: int | None,
    path: str,
    list_inputs: bool,
    list_checks: bool,
    as_json: bool,
) -> None:
    """Print one file of a revision (hash-checked), with --inputs its blocks' inputs, or with
    --checks each block's outcome check and what its extractions read."""
    services = obj.services
    with services.sessions() as session:
        target = read.resolve_script(session, wpid, cache_key)
        revision = read.select_revision(session, target, version)
        candidates = read.candidate_versions(session, target)
    if revision.version in candidates:
        click.echo(f"v{revision.version} is a candidate, not live", err=True)
    elif version is None and candidates:
        listed = ", ".join(f"v{v}" for v in candidates)
        click.echo(f"live v{revision.version}; candidates: {listed}", err=True)
    if list_inputs:
        show_inputs(wpid, revision, as_json)
        return
    if list_checks:
        main = services.store.get(revision.files["main.py"]).decode("utf-8")
        show_checks(wpid, revision, main)
        return
    if path not in revision.files:
        listing = ", ".join(sorted(revision.files))
        raise click.ClickException(f"version {revision.version} has no {path!r}; files: {listing}")
    click.echo(services.store.get(revision.files[path]).decode("utf-8"), nl=False)


@script.command()
@click.argument("wpid")
@click.argument("v1", type=REVISION)
@click.argument("v2", type=REVISION)
@cache_key_option
@pass_ctx
def diff(obj: Context, wpid: str, v1: int, v2: int, cache_key: str | None) -> None:
    """Unified diff of two revisions."""
    services = obj.services
    with services.sessions() as session:
        target = read.resolve_script(session, wpid, cache_key)
        old = read.select_revision(session, target, v1)
        new = read.select_revision(session, target, v2)
    click.echo(
        read.diff(
            read.read_files(services.store, old),
            read.read_files(services.store, new),
            f"v{v1}",
            f"v{v2}",
        ),
        nl=False,
    )


@script.command()
@click.argument("wpid")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@cache_key_option
@click.option("--version", type=REVISION, default=None, help="Revision version (default: live).")
@pass_ctx
def export(
    obj: Context, wpid: str, directory: Path, cache_key: str | None, version: int | None
) -> None:
    """Write a revision's files into DIRECTORY."""
    services = obj.services
    with services.sessions() as session:
        revision = read.select_revision(
            session, read.resolve_script(session, wpid, cache_key), version
        )
    for path, data in read.read_files(services.store, revision).items():
        target = (directory / path).resolve()
        if directory.resolve() not in target.parents:
            raise click.ClickException(f"refusing to write outside {directory}: {path!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    click.echo(f"wrote {len(revision.files)} files of version {revision.version} to {directory}")


def show_checks(wpid: str, revision: cache.LiveRevision, main_py: str) -> None:
    title = f"{wpid} script {revision.script_id} v{revision.version}: checks and readers"
    table = Table(title=escape(title))
    for column in ("block", "outcome check", "reads"):
        table.add_column(column)
    for found in block_checks(main_py):
        reads = [f"{r.key} \u2190 {r.element} {r.part}" for r in found.reads]
        reads += ["the extractor (page.extract)"] * found.extracts
        table.add_row(
            escape(found.label),
            escape(found.outcome or "none"),
            escape("\n".join(reads) or "-"),
        )
    Console(width=160).print(table)


def show_inputs(wpid: str, revision: cache.LiveRevision, as_json: bool) -> None:
    rows = read.inputs_rows(revision)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "workflow_permanent_id": wpid,
                    "script_id": revision.script_id,
                    "version": revision.version,
                    "blocks": rows,
                },
                sort_keys=True,
            )
        )
        return
    table = Table(title=escape(f"{wpid} script {revision.script_id} v{revision.version}: inputs"))
    for column in ("block", "action", "selector", "value", "reads"):
        table.add_column(column)
    for row in rows:
        for item in [*row["bindings"], *row["literals"]]:
            reads = ", ".join(item["sources"]) or "LITERAL"
            table.add_row(
                escape(item["block"]),
                item["action"],
                escape(item["selector"] or ""),
                escape(item["expression"]),
                escape(reads),
            )
    Console().print(table)
    literal = sum(len(r["literals"]) for r in rows)
    bound = sum(len(r["bindings"]) for r in rows)
    click.echo(f"{bound} bound, {literal} literal (typed as recorded in every replay)")
