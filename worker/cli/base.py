"""What every `scriptcache` subcommand shares: settings, services, event files, JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from config.settings import Settings, SettingsError
from worker.domain.errors import ScriptcacheError

if TYPE_CHECKING:
    from worker.app.bootstrap import Services


class Context:
    """Settings and services, built lazily: `--help` needs neither."""

    def __init__(self) -> None:
        self._services: Services | None = None
        # Built inside a command's click context: its services are closed with it (a command
        # run in-process, as the tests do, leaves no open connection behind).
        click.get_current_context().call_on_close(self.close)

    def close(self) -> None:
        if self._services is not None:
            self._services.close()
            self._services = None

    @property
    def settings(self) -> Settings:
        try:
            return Settings.from_env()
        except SettingsError as exc:
            raise click.ClickException(str(exc)) from None

    @property
    def services(self) -> Services:
        if self._services is None:
            from worker.app.bootstrap import build

            # (closed with the command's context, registered in __init__: this may run in a
            # thread of the command, which has no click context)
            self._services = build(self.settings)
        return self._services


pass_ctx = click.make_pass_decorator(Context, ensure=True)


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))


def read_source(source: str) -> str:
    """A JSON Lines file (or - for stdin) as text; invalid UTF-8 is an error naming the line,
    not a traceback."""
    raw = sys.stdin.buffer.read() if source == "-" else _read_file(source)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise click.ClickException(
            f"{source}: line {line}: invalid UTF-8 at byte {exc.start}"
        ) from None


def _read_file(source: str) -> bytes:
    """A file's bytes; a missing or unreadable path is a usage error (exit 2, one line)."""
    try:
        return Path(source).read_bytes()
    except IsADirectoryError:
        reason = "is a directory"
    except FileNotFoundError:
        reason = "does not exist"
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
    raise click.BadParameter(f"{source!r}: {reason}", param_hint="'SOURCE'")


def read_events(source: str) -> list[Any]:
    """Events of a JSON Lines file (or - for stdin); the error names the line."""
    from worker.domain.events import parse_line
    from worker.domain.lines import read_lines

    data = read_source(source)
    events = []
    for number, line in enumerate(read_lines(data), start=1):
        try:
            events.append(parse_line(line))
        except ScriptcacheError as exc:
            raise click.ClickException(f"{source}: line {number}: {exc}") from None
    return events


def read_events_or_reasons(source: str) -> list[tuple[int, Any]]:
    """Each line of a JSON Lines file (or - for stdin) with its number: the event, or the
    reason it is not one (a str)."""
    from worker.domain.events import parse_line
    from worker.domain.lines import read_lines

    out: list[tuple[int, Any]] = []
    for number, line in enumerate(read_lines(read_source(source)), start=1):
        try:
            out.append((number, parse_line(line)))
        except ScriptcacheError as exc:
            out.append((number, str(exc)))
    return out


# Integer arguments, bounded by the columns they are looked up in: a value beyond them is a
# usage error naming the argument and its range, never a database error.
INT32_MAX, INT64_MAX = 2**31 - 1, 2**63 - 1
WORKFLOW_VERSION = click.IntRange(0, INT32_MAX)  # workflows.version (events: ge=0)
REVISION = click.IntRange(1, INT32_MAX)  # script_revisions.version
ENTRY_ID = click.IntRange(1, INT64_MAX)  # dead_letters.dead_letter_id


def json_object(raw: str, option: str) -> dict[str, Any]:
    """A command-line option holding a JSON object; a clear usage error otherwise."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not valid JSON: {exc.msg}", param_hint=option) from None
    if not isinstance(value, dict):
        raise click.BadParameter("expected a JSON object", param_hint=option)
    return value
