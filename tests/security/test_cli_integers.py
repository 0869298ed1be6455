"""Issue 23, item 4: every integer argument of every command, given any integer at all, ends in
a result or a clear error (exit 1 or 2, one line), never a traceback: `dlq show
999999999999999999999` and `script diff W 1 99999999999` used to end in PostgreSQL's "bigint
out of range". The commands run in-process (click's runner) on a real PostgreSQL database."""

from __future__ import annotations

import json
from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.factory import linear_run
from tests.keys import SEAL_KEY_TEXT
from tests.support.services import fresh_database
from worker.cli.base import INT64_MAX
from worker.cli.main import main


def integer_parameters() -> Iterator[tuple[tuple[str, ...], click.Command, click.Parameter]]:
    """(command path, command, parameter) for every integer parameter of the CLI."""

    def walk(
        path: tuple[str, ...], command: click.Command
    ) -> Iterator[tuple[tuple[str, ...], click.Command, click.Parameter]]:
        if isinstance(command, click.Group):
            ctx = click.Context(command)
            for name in sorted(command.list_commands(ctx)):  # lazily imported ones too
                sub = command.get_command(ctx, name)
                assert sub is not None, name
                yield from walk((*path, name), sub)
            return
        for param in command.params:
            if isinstance(param.type, click.types.IntParamType):
                yield path, command, param

    yield from walk((), main)


INTEGERS = list(integer_parameters())
WPID = "wf_integers"
IDS = [" ".join(path) + f" {p.name}" for path, _, p in INTEGERS]


def test_the_cli_has_the_integer_arguments_the_issue_names() -> None:
    assert {"dlq show entry_id", "script diff v1", "script diff v2", "plan version"} <= set(IDS)


@pytest.mark.parametrize(("path", "command", "param"), INTEGERS, ids=IDS)
def test_every_integer_argument_is_bounded_by_its_column(
    path: tuple[str, ...], command: click.Command, param: click.Parameter
) -> None:
    assert isinstance(param.type, click.IntRange), f"{' '.join(path)} {param.name}: unbounded"
    assert param.type.min is not None and param.type.min >= 0
    assert param.type.max is not None and param.type.max <= INT64_MAX


def argv(
    path: tuple[str, ...], command: click.Command, target: click.Parameter, n: int
) -> list[str]:
    """The command line giving `n` to `target`, and harmless values to what else it needs."""
    args: list[str] = []
    options: list[str] = []
    for param in command.params:
        is_int = isinstance(param.type, click.types.IntParamType)
        if isinstance(param, click.Argument):
            if param is target:
                args.append(str(n))
            elif param.nargs == -1:
                continue
            else:
                args.append("1" if is_int else WPID)
        elif isinstance(param, click.Option):
            if param is target:
                options += [param.opts[0], str(n)]
            elif "--yes" in param.opts:
                options.append("--yes")
            elif param.required:
                options += [param.opts[0], "1" if is_int else "{}"]
    return [*path, *options, "--", *args]  # "--": a negative number is not an option


@pytest.fixture(scope="module")
def env(pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A database holding a script of WPID (two revisions) and a dead letter."""
    tmp = tmp_path_factory.mktemp("cli-integers")
    with fresh_database(pg_template) as pg_url:
        environment = {
            "SCRIPTCACHE_DATABASE_URL": pg_url,
            "SCRIPTCACHE_STORE_URL": f"file://{tmp}/blobs",
            "SCRIPTCACHE_SEAL_KEY": SEAL_KEY_TEXT,
        }
        events = tmp / "runs.jsonl"
        runs = [*linear_run("wr_int_1", WPID, ["a"]), *linear_run("wr_int_2", WPID, ["a", "b"])]
        events.write_text("".join(json.dumps(e) + "\n" for e in runs))
        done = CliRunner().invoke(main, ["ingest", "--generate", str(events)], env=environment)
        assert done.exit_code == 0, done.output
        yield environment


@pytest.mark.parametrize(("path", "command", "param"), INTEGERS, ids=IDS)
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(n=st.integers(min_value=-(2**70), max_value=2**70))
@example(n=999_999_999_999_999_999_999)
@example(n=99_999_999_999)
@example(n=2**31)
@example(n=2**63)
@example(n=0)
@example(n=-1)
def test_property_any_integer_ends_in_a_result_or_a_clear_error(
    env: dict[str, str],
    path: tuple[str, ...],
    command: click.Command,
    param: click.Parameter,
    n: int,
) -> None:
    result = CliRunner().invoke(main, argv(path, command, param, n), env=env, input="n\n")

    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    assert "out of range" not in result.output or "is not in the range" in result.output
    if n < 0 or n > INT64_MAX:
        assert result.exit_code == 2 and "is not in the range" in result.output
