"""What every `scriptcache` subcommand shares: settings, services, event files, JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from config.settings import Settings, SettingsError
from worker.bootstrap import Services, build
from worker.errors import ScriptcacheError
from worker.events import parse_line, read_lines


class Context:
    """Settings and services, built lazily: `--help` needs neither."""

    def __init__(self) -> None:
        self._services: Services | None = None

    @property
    def settings(self) -> Settings:
        try:
            return Settings.from_env()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None

    @property
    def services(self) -> Services:
        if self._services is None:
            self._services = build(self.settings)
        return self._services


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def read_events(source: str) -> list[Any]:
    """Events of a JSON Lines file (or - for stdin); the error names the line."""
    data = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
    events = []
    for number, line in enumerate(read_lines(data), start=1):
        try:
            events.append(parse_line(line))
        except ScriptcacheError as exc:
            raise click.ClickException(f"{source}: line {number}: {exc}") from None
    return events
