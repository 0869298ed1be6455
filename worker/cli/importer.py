"""`scriptcache import`: other agents' saved runs as events of the producer contract. Light at
import: the mapping is pure, Celery is imported only to publish."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from worker.cli.base import WORKFLOW_VERSION, Context, json_object, pass_ctx


@click.group("import")
def import_group() -> None:
    """Turn another agent's saved run into a definition and events (browser-use)."""


@import_group.command("browser-use")
@click.argument("histories", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--workflow-id", "wpid", required=True, help="The workflow_permanent_id.")
@click.option(
    "--task",
    "tasks",
    multiple=True,
    help="The task each history's Agent was given, in order (default: the task browser-use "
    "0.13 keeps in the history's first state message).",
)
@click.option("--label", "labels", multiple=True, help="Each history's block label (task_N).")
@click.option(
    "--params",
    default="{}",
    help="The run's parameter values as a JSON object (typed values "
    "equal to one are recorded with its key; the task's text uses them as templates).",
)
@click.option(
    "--sensitive-key",
    "sensitive_keys",
    multiple=True,
    help="A key of the Agent's sensitive_data (credential parameter); placeholders "
    "<secret>key</secret> in the history add theirs. Values are never read.",
)
@click.option(
    "--sensitive-data",
    "sensitive_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="A JSON file of the Agent's sensitive_data (key: value, or domain: {key: value}): "
    "its keys are credential parameters, its values are scrubbed from everything written "
    "and never shown.",
)
@click.option("--workflow-version", type=WORKFLOW_VERSION, default=1, show_default=True)
@click.option("--run-id", default=None, help="The workflow_run_id (default: from the content).")
@click.option("--title", default=None, help="The definition's title (default: the first task).")
@click.option("--emit", "emit_to", default=None, help="Write the events as JSON Lines (- stdout).")
@click.option("--publish", "to_broker", is_flag=True, help="Send the events to the broker.")
@pass_ctx
def browser_use_command(
    obj: Context,
    histories: tuple[str, ...],
    wpid: str,
    tasks: tuple[str, ...],
    labels: tuple[str, ...],
    params: str,
    sensitive_keys: tuple[str, ...],
    sensitive_file: str | None,
    workflow_version: int,
    run_id: str | None,
    title: str | None,
    emit_to: str | None,
    to_broker: bool,
) -> None:
    """Turn browser-use Agent histories (AgentHistoryList.save_to_file) into a definition and
    events: one task block per history, in order, as one run of workflow WORKFLOW_ID.

    Without --emit or --publish, the events are written to stdout.
    """
    from worker.producers.browser_use import TaskRun, import_runs

    if len(tasks) > len(histories) or len(labels) > len(histories):
        raise click.UsageError("more --task or --label than histories")
    runs = [
        TaskRun(
            _history(path),
            tasks[n] if n < len(tasks) else None,
            labels[n] if n < len(labels) else ("task" if len(histories) == 1 else f"task_{n + 1}"),
        )
        for n, path in enumerate(histories)
    ]
    try:
        imported = import_runs(
            runs,
            workflow_permanent_id=wpid,
            parameters=json_object(params, "--params"),
            sensitive_data=_sensitive_data(sensitive_file),
            credential_keys=sensitive_keys,
            workflow_version=workflow_version,
            workflow_run_id=run_id,
            title=title,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    lines = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in imported.events)
    if emit_to == "-" or (emit_to is None and not to_broker):
        click.echo(lines, nl=False)
    elif emit_to is not None:
        Path(emit_to).write_text(lines, encoding="utf-8")
    if to_broker:
        from kombu.utils.url import maybe_sanitize_url

        from worker.adapters.publisher import producer_app, publish_events

        sent = publish_events(producer_app(obj.settings.broker_url), imported.events)
        safe = maybe_sanitize_url(obj.settings.broker_url, mask="***")
        click.echo(f"published {sent} events to {safe}", err=emit_to == "-")


def _sensitive_data(path: str | None) -> dict[str, Any] | None:
    """The file's object, checked; an error never quotes the file's content."""
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else type(exc).__name__
        raise click.ClickException(f"--sensitive-data {path}: unreadable ({reason})") from None
    if not isinstance(data, dict):
        raise click.ClickException(f"--sensitive-data {path}: not a JSON object")
    return data


def _history(path: str) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path}: not a browser-use history: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("history"), list):
        raise click.ClickException(f"{path}: not a browser-use history (no `history` list)")
    return data
