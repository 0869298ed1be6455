"""The one way tests run the `scriptcache` command.

In-process by default (click's CliRunner, the same `main` group, the environment given and no
other SCRIPTCACHE_* variable): a test about what a command does does not pay for starting a
Python process. `process=True` runs the installed console script as a subprocess, for tests
about the process itself (exit status from a real exit, what reaches stderr, signals, a
traceback that must not be printed). Both return the same `Ran`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from tests.support.services import ROOT
from worker.cli.main import main

SCRIPTCACHE = Path(sys.executable).with_name("scriptcache")


@dataclass(frozen=True)
class Ran:
    """What a command did, as subprocess.CompletedProcess names it."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run_cli(
    *args: str,
    env: Mapping[str, str],
    stdin: str | None = None,
    process: bool = False,
    timeout_s: float = 180,
) -> Ran:
    """`scriptcache ARGS` with `env` as its SCRIPTCACHE_* (and COLUMNS, AWS_*) settings."""
    if process:
        done = subprocess.run(
            [str(SCRIPTCACHE), *args],
            cwd=ROOT,
            env={**_without_settings(os.environ), **env},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        return Ran(args, done.returncode, done.stdout, done.stderr)
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SCRIPTCACHE_")}
    result = CliRunner().invoke(main, list(args), input=stdin, env={**unset, **env})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        # What would have been a traceback on stderr fails the test, with the traceback.
        raise result.exception
    return Ran(args, result.exit_code, result.stdout, result.stderr)


@dataclass(frozen=True)
class DemoRun:
    """`scriptcache demo --local` as it ran (the `demo_local` fixture)."""

    folder: Path  # its SQLite database (demo.db) and blob directory (blobs/)
    output: str


def _without_settings(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if not k.startswith("SCRIPTCACHE_")}
