"""The Alembic migrations (worker/adapters/sql/migrations/versions) on real PostgreSQL.

The file numbers do not give the order: revisions were written on branches and chained
afterwards, so `0004_scheduling.py` runs after `0008_security.py`. CHAIN below is the order
Alembic runs them in, written out so that a new migration must be appended here by hand (and
a second head, or a revision chained into the middle, fails the first tests).

After an upgrade to head the database is what worker/adapters/sql/models.py declares
(autogenerate finds nothing to change), and every downgrade undoes its upgrade: down to an
empty database and up again, and one revision at a time. PostgreSQL must be running: a
missing service fails these tests (tests/conftest.py), it never skips them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from worker.adapters.sql.engine import make_engine
from worker.adapters.sql.migrate import MIGRATIONS, alembic_config, current
from worker.adapters.sql.models import Base

# Base to head, in the order the down_revision links give (not the file numbers).
CHAIN = [
    "0001",  # initial schema
    "0002",  # received events
    "0003",  # debounce deadline
    "0007",  # closed loop
    "0006",  # block output
    "0005",  # revision control
    "0008",  # security
    "0004",  # scheduling
    "0009",  # scriptcache_block_guard(run_id), PostgreSQL only
    "0010",  # action element
    "0011",  # repair held
    "0012",  # block page
]


def script_directory() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_the_chain_is_written_out_in_the_order_alembic_runs_it() -> None:
    walked = [script.revision for script in script_directory().walk_revisions("base", "heads")]
    assert list(reversed(walked)) == CHAIN


def test_there_is_one_head_and_one_base() -> None:
    scripts = script_directory()
    assert scripts.get_heads() == [CHAIN[-1]]
    assert scripts.get_bases() == [CHAIN[0]]


def test_each_file_holds_the_revision_its_name_starts_with() -> None:
    for script in script_directory().walk_revisions():
        assert script.path.rsplit("/", 1)[-1].startswith(f"{script.revision}_"), script.path


# --- on PostgreSQL ------------------------------------------------------------------------


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    """A fresh database, upgraded to head (a copy of the session's template, which was
    migrated from empty by worker.adapters.sql.migrate.upgrade)."""
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def migrate(engine: Engine, direction: str, target: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, direction)(config, target)


def schema_differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def has_guard_function(engine: Engine) -> bool:
    with engine.connect() as connection:
        found = connection.scalar(
            text("SELECT count(*) FROM pg_proc WHERE proname = 'scriptcache_block_guard'")
        )
    return bool(found)


def test_head_is_the_schema_the_models_declare(engine: Engine) -> None:
    assert current(engine) == CHAIN[-1]
    assert schema_differences(engine) == []
    assert has_guard_function(engine)


def test_downgrade_to_base_then_upgrade_to_head(engine: Engine) -> None:
    migrate(engine, "downgrade", "base")
    assert current(engine) is None
    assert tables(engine) <= {"alembic_version"}, "a downgrade left tables behind"
    assert not has_guard_function(engine)

    migrate(engine, "upgrade", "head")
    assert current(engine) == CHAIN[-1]
    assert schema_differences(engine) == []
    assert has_guard_function(engine)


def test_every_downgrade_undoes_its_upgrade(engine: Engine) -> None:
    """From head down to base one revision at a time, each step going down, up and down
    again: a downgrade that leaves something behind breaks the upgrade that follows it."""
    for below, revision in reversed(list(zip(["base", *CHAIN[:-1]], CHAIN, strict=True))):
        assert current(engine) == revision
        migrate(engine, "downgrade", below)
        migrate(engine, "upgrade", revision)
        migrate(engine, "downgrade", below)
    assert current(engine) is None
    migrate(engine, "upgrade", "head")
    assert schema_differences(engine) == []
