"""`scriptcache publish`: send events to the broker as a producer does. Light at import: the
command's own imports (Celery, kombu) happen when it runs."""

from __future__ import annotations

import json

import click

from worker.cli.base import Context, pass_ctx, read_source
from worker.domain.lines import read_lines


@click.command()
@click.argument("source")
@pass_ctx
def publish(obj: Context, source: str) -> None:
    """Send a JSON Lines file of events (or - for stdin) to the broker."""
    from kombu.utils.url import maybe_sanitize_url

    from worker.adapters.publisher import producer_app, publish_events, task_name_for

    data = read_source(source)
    events = []
    for number, line in enumerate(read_lines(data), start=1):
        try:
            event = json.loads(line)
            task_name_for(event)
        except (json.JSONDecodeError, ValueError) as exc:
            raise click.ClickException(f"{source}: line {number}: {exc}") from None
        events.append(event)
    sent = publish_events(producer_app(obj.settings.broker_url), events)
    # The broker url without its credentials (a password may itself contain '@').
    safe = maybe_sanitize_url(obj.settings.broker_url, mask="***")
    click.echo(f"published {sent} events to {safe}")
