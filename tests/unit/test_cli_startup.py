"""The command starts at once: `scriptcache --help` loads no heavy library, and the lazily
loaded subcommands are listed exactly as if they had been imported (issue 22)."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from worker.cli.main import LAZY_COMMANDS, main

HEAVY = ("sqlalchemy", "celery", "kombu", "boto3", "botocore", "playwright", "pydantic", "rich")


def modules_loaded_by(code: str) -> set[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    return {name.split(".")[0] for name in out.split()}


def test_help_loads_no_heavy_library() -> None:
    loaded = modules_loaded_by(
        "from worker.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert "worker" in loaded  # the probe did import the command
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))


def test_publish_loads_neither_the_database_nor_pydantic_before_it_runs() -> None:
    loaded = modules_loaded_by("import worker.cli.publish")
    assert loaded.isdisjoint({"sqlalchemy", "boto3", "pydantic", "celery", "playwright"})


def test_lazy_commands_are_the_commands_their_modules_define() -> None:
    ctx = click.Context(main)
    for name, (target, summary) in LAZY_COMMANDS.items():
        command = main.get_command(ctx, name)
        assert command is not None, target
        assert command.name == name or name in main.commands
        assert " ".join((command.help or "").split()).startswith(summary), name


def test_help_lists_lazy_commands_as_click_would_once_imported() -> None:
    lazy = CliRunner().invoke(main, ["--help"]).output
    ctx = click.Context(main)
    for name in LAZY_COMMANDS:
        main.get_command(ctx, name)  # now every command is imported
    eager = CliRunner().invoke(main, ["--help"]).output
    assert lazy == eager
    assert all(f"  {name} " in lazy for name in LAZY_COMMANDS)
