"""`scriptcache demo`: publish the bundled sample workflow's runs, show what was cached; then
the closed loop in headless Chromium with the stand-in agent (worker/demo/loop.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select

from worker.adapters.publisher import producer_app, publish_events
from worker.adapters.sql import models as m
from worker.adapters.sql import scripts as read
from worker.app.generation import generate_now
from worker.app.intake import record_only
from worker.cli.base import Context, echo_json, pass_ctx
from worker.demo.loop import closed_loop, in_process, through_worker
from worker.domain.events import parse_line
from worker.domain.lines import read_lines
from worker.secrets.seals import SealKey

SAMPLE = Path(__file__).parents[1] / "samples" / "order-portal.jsonl"


def sample_events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_lines(SAMPLE.read_text(encoding="utf-8"))]


@click.command()
@click.option("--local", is_flag=True, help="No broker: record and generate in-process.")
@click.option(
    "--timeout",
    "timeout_s",
    default=60.0,
    show_default=True,
    help="Seconds to wait for the worker.",
)
@pass_ctx
def demo(obj: Context, local: bool, timeout_s: float) -> None:
    """Publish the sample order-portal runs (refund branch, support branch, a loop) and print
    the resulting revisions and run plans; then run the closed loop (learn, replay, a
    redesign, a replay with fallbacks, its repair, a clean replay) in headless Chromium with
    the stand-in agent, when Playwright and Chromium are there."""
    raw = sample_events()
    run_ids = list(dict.fromkeys(e["workflow_run_id"] for e in raw))
    services = obj.services
    if local:
        record_only(
            services.sessions,
            [parse_line(json.dumps(e)) for e in raw],
            SealKey(services.settings.seal_keys),
        )
        for run_id in run_ids:
            echo_json(
                generate_now(services.sessions, services.store, run_id, services.clock).as_json()
            )
    else:
        sent = publish_events(producer_app(obj.settings.broker_url), raw)
        click.echo(f"published {sent} events of runs {', '.join(run_ids)}; waiting for the worker")
        _wait_for(services, run_ids, timeout_s)
    _report(services, raw)
    record = (
        in_process(services, obj.settings)
        if local
        else through_worker(services, obj.settings, timeout_s)
    )
    closed_loop(services, obj.settings, record)


def _wait_for(services: Any, run_ids: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with services.sessions() as session:
            rows = session.scalars(
                select(m.RunDebounce).where(m.RunDebounce.workflow_run_id.in_(run_ids))
            ).all()
            done = [r for r in rows if r.due_at is None and r.generations > 0]
        if len(done) == len(run_ids):
            return
        time.sleep(0.5)
    raise click.ClickException(
        f"the worker did not process the demo runs within {timeout_s:g} s: is it running "
        "(make run), and does it use the same SCRIPTCACHE_DATABASE_URL and broker?"
    )


def _report(services: Any, raw: list[dict[str, Any]]) -> None:
    started = [e for e in raw if e["type"] == "run_started"]
    wpid = started[0]["workflow_permanent_id"]
    with services.sessions() as session:
        script = read.resolve_script(session, wpid, None)
        click.echo(f"\nscript {script.script_id} of {wpid}, cache key {script.cache_key_value!r}:")
        for row in read.history_rows(session, script):
            click.echo(
                f"  version {row['version']}{' (live)' if row['live'] else ''}: "
                f"{row['cached_blocks']} cached blocks, from run "
                f"{row['source_workflow_run_id']}"
            )
        for event in started:
            plan = read.run_plan(session, wpid, event["parameters"])
            click.echo(
                f"\nrun plan for action={event['parameters'].get('action')!r}: mode={plan['mode']}"
            )
            for label, mode in plan["blocks"].items():
                click.echo(f"  {label:<18} {mode}")
    click.echo(f"\nsee the script: scriptcache script show {wpid}")
