"""actions[].element survives intake (both paths, real PostgreSQL), never holds a credential,
and reaches the script as `expect=(tag, text)`."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tests.integration.test_block_intake import both_paths
from tests.keys import SEAL_KEY
from tests.recordings import Recorder, act, defn, param
from worker.adapters.sql import scripts as read
from worker.adapters.sql.engine import make_sessionmaker
from worker.adapters.sql.recording import load_run
from worker.adapters.store import MemoryStore
from worker.app.generation import generate_now
from worker.app.intake import record_only
from worker.domain.events import parse_event
from worker.domain.run import ElementRecord

CANARY = "CANARY-0d4e-in-an-element"


def events() -> list[dict[str, Any]]:
    rec = Recorder(
        "element",
        defn(
            [
                {"label": "log_in", "block_type": "login", "url": "https://desk.test/login"},
            ],
            [param("user"), param("pin", "credential")],
        ),
        {"user": "ada@desk.test", "pin": CANARY},
    )
    rec.block(
        "log_in",
        "login",
        [
            act(
                "input_text",
                "/html/body/form/input[1]",
                "Type the user",
                text="ada@desk.test",
                element={"tag": "input", "text": "Username:"},
            ),
            act(
                "click",
                "/html/body/p/span",
                "Check the greeting",
                element={"tag": "span", "text": f"Hello {CANARY}"},
            ),
            act(
                "click",
                "/html/body/form/input[2]",
                "Click 'Save'",
                element={"tag": "INPUT", "text": "Save"},
            ),
            act("keypress", None, "Press Enter", text="Enter"),
        ],
        task={"url": "https://desk.test/login"},
    )
    return rec.finish().events


def test_both_intake_paths_record_the_element_and_the_run_carries_it(
    pg_sessions: sessionmaker[Session],
) -> None:
    (generic_results, generic_rows), (results, rows) = both_paths(
        pg_sessions, [parse_event(e) for e in events()]
    )

    assert rows == generic_rows and results == generic_results
    stored = sorted((a["ordinal"], a["element"]) for a in map(json.loads, rows["actions"]))
    assert stored == [
        (0, {"tag": "input", "text": "Username:"}),
        (1, {"tag": "span", "text": "Hello <redacted>"}),
        (2, {"tag": "input", "text": "Save"}),
        (3, None),
    ]
    assert CANARY not in json.dumps(rows)
    with pg_sessions() as session:
        run = load_run(session, "element")
    assert run is not None
    assert [a.element for a in run.blocks[0].actions] == [
        ElementRecord("input", "Username:"),
        ElementRecord("span", "Hello <redacted>"),
        ElementRecord("input", "Save"),
        None,
    ]


def test_the_script_expects_each_element_and_never_a_redacted_text(sqlite_engine: Engine) -> None:
    sessions, store = make_sessionmaker(sqlite_engine), MemoryStore()
    [run_id] = record_only(sessions, [parse_event(e) for e in events()], SEAL_KEY)
    assert generate_now(sessions, store, run_id).regenerated
    with sessions() as session:
        script = read.resolve_script(session, "wpid_element", None)
        files = read.read_files(store, read.select_revision(session, script, None))

    main = files["main.py"].decode()
    assert not any(CANARY.encode() in data for data in files.values())
    assert "expect=('input', 'Username:')" in main
    assert "expect=('span', None)" in main  # its text held a secret
    assert "expect=('input', 'Save')" in main
    assert main.count("expect=") == 3
