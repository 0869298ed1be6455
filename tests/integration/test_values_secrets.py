"""A credential typed without `parameter_key` never reaches a generated file: the script
types `ctx.credential(key)` where the agent typed the value, in either event order.

Intake binds a typed value equal to a secret to its key (worker/secrets/seals.py, the security
issue); the generator turns the key into `ctx.credential` (worker/domain/codegen/values.py)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from tests.keys import SEAL_KEY
from tests.recordings import Recorder, act, defn, param
from worker.adapters.sql import scripts as read
from worker.adapters.sql.engine import make_sessionmaker
from worker.adapters.store import MemoryStore
from worker.app.generation import generate_now
from worker.app.intake import record_only
from worker.domain.events import parse_event

CANARY = "CANARY-5e1f0c-typed-by-value"


def events() -> list[dict[str, Any]]:
    rec = Recorder(
        "canary",
        defn(
            [
                {"label": "log_in", "block_type": "login", "url": "https://bank.test/login"},
            ],
            [param("user"), param("pin", "credential")],
        ),
        {"user": "ada@bank.test", "pin": CANARY},
    )
    rec.block(
        "log_in",
        "login",
        [
            act("input_text", "//input[@id='user']", "Type the user", text="ada@bank.test"),
            act("input_text", "//input[@id='pin']", "Type the PIN", text=CANARY),
            act("select_option", "//select[@id='pin2']", "Pick the PIN", option=CANARY),
            act("click", "//button", "Sign in"),
        ],
        task={"url": "https://bank.test/login"},
    )
    return rec.finish().events


@pytest.mark.parametrize("order", ["run_started_first", "blocks_first"])
def test_a_credential_typed_without_parameter_key_is_ctx_credential_in_every_file(
    sqlite_engine: Engine, order: str
) -> None:
    raw = events()
    if order == "blocks_first":
        raw = [raw[1], raw[0], *raw[2:]]
    sessions, store = make_sessionmaker(sqlite_engine), MemoryStore()
    runs = record_only(sessions, [parse_event(e) for e in raw], SEAL_KEY)
    [result] = [generate_now(sessions, store, run_id) for run_id in runs]
    assert result.regenerated
    with sessions() as session:
        script = read.resolve_script(session, "wpid_canary", None)
        files = read.read_files(store, read.select_revision(session, script, None))

    assert files and not any(CANARY.encode() in data for data in files.values())
    main = files["main.py"].decode()
    assert main.count("ctx.credential('pin')") == 2
    assert "ctx.param('user')" in main
