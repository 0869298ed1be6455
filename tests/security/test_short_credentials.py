"""Issue 23, item 2: a short credential never corrupts the stored definition, labels, ids or
cache key, generated code never holds a redaction marker, and a credential of 1, 4 or 40
characters (or an object) leaks from no text field: into no table, no blob, and no emitted
event. Recorded on a real PostgreSQL database, generated in-process."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from tests.factory import RunBuilder, definition, task_block
from tests.keys import SEAL_KEY
from worker.adapters.sql import models as m
from worker.adapters.store import open_store
from worker.app.generation import generate_now
from worker.app.intake import record_only
from worker.browser.emit import redacted
from worker.domain.events import parse_event
from worker.secrets.seals import REDACTED

SITE = "https://portal.acme.test"


def portal_run(run_id: str, pin: str, password: str) -> list[dict[str, Any]]:
    """The issue's run: a PIN and a password that occur in a label, the cache key's domain,
    a url and a typed phone number."""
    defn = definition(
        [
            task_block("open_order_1234", url=f"{SITE}/login", navigation_goal="Sign in"),
        ],
        parameters=[
            {"key": "pin", "parameter_type": "credential"},
            {"key": "password", "parameter_type": "credential"},
        ],
    )
    run = RunBuilder(run_id, "wf_portal", defn, parameters={"pin": pin, "password": password})
    run.block(
        "open_order_1234",
        actions=[
            {"action_type": "goto_url", "text": f"{SITE}/login", "intention": "Open login"},
            {
                "action_type": "input_text",
                "xpath": "//input[@name='phone']",
                "text": "555-1234",
                "intention": "Type the phone 555-1234",
            },
            {"action_type": "input_text", "xpath": "//input[@name='pw']", "text": password},
            {"action_type": "click", "xpath": "//button[@id='go']", "intention": "Sign in"},
        ],
    )
    return run.finish()


def ingest(sessions: sessionmaker[Session], events: list[dict[str, Any]]) -> str:
    (run_id,) = record_only(sessions, [parse_event(e) for e in events], SEAL_KEY)
    return run_id


def test_a_short_credential_leaves_labels_cache_key_and_definition_as_sent(
    pg_sessions: sessionmaker[Session],
) -> None:
    store = open_store("memory://")
    first = generate_now(
        pg_sessions, store, ingest(pg_sessions, portal_run("wr_p1", "1234", "test"))
    )

    assert first.regenerated, first.reason
    assert first.cache_key == "default:portal.acme.test"
    with pg_sessions() as session:
        stored = session.scalars(select(m.Workflow.definition)).one()
        labels = session.scalars(select(m.WorkflowRunBlock.label)).all()
        phone = session.scalars(
            select(m.Action.text).where(m.Action.xpath == "//input[@name='phone']")
        ).one()
    assert stored["blocks"][0]["label"] == "open_order_1234"
    assert stored["blocks"][0]["url"] == f"{SITE}/login"
    assert labels == ["open_order_1234"]
    assert phone == f"555-{REDACTED}"  # free text: the PIN is scrubbed from it

    # The next run of the same workflow version is recorded, not refused.
    second = generate_now(
        pg_sessions, store, ingest(pg_sessions, portal_run("wr_p2", "1234", "test"))
    )
    assert second.cache_key == first.cache_key
    with pg_sessions() as session:
        assert session.scalar(text("SELECT count(*) FROM workflow_run_blocks")) == 2
        assert session.scalar(text("SELECT count(*) FROM dead_letters")) == 0


def test_generated_code_never_holds_a_redaction_marker_the_action_goes_to_the_agent(
    pg_sessions: sessionmaker[Session],
) -> None:
    store = open_store("memory://")
    result = generate_now(
        pg_sessions, store, ingest(pg_sessions, portal_run("wr_p3", "1234", "test"))
    )
    with pg_sessions() as session:
        shas = session.scalars(select(m.ScriptFile.sha256)).all()
    files = {sha: store.get(sha).decode() for sha in shas}

    assert result.regenerated
    code = "\n".join(files.values())
    assert REDACTED not in code and "<redacted" not in code
    assert "await page.fill(None, None, intention='Type the phone 555-')" in code.replace('"', "'")
    assert "ctx.credential('password')" in code
    assert f"'{SITE}/login'" in code  # the start page: the definition's url, as sent


CREDENTIALS = ["7", "4821", "k" * 40, {"user": "ada-admin", "secret": "s3cr3t-Value-77"}]


def texts_of(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in texts_of(v)]
    return [str(value)]


def everywhere_run(run_id: str, secret: Any) -> list[dict[str, Any]]:
    """The credential's value in every free-text field a producer sends."""
    word = texts_of(secret)[-1]
    defn = definition(
        [task_block("form"), task_block("next")],
        parameters=[
            {"key": "cred", "parameter_type": "credential"},
            {"key": "note", "parameter_type": "workflow"},
        ],
    )
    run = RunBuilder(run_id, "wf_every", defn, parameters={"cred": secret, "note": f"n {word} n"})
    run.block(
        "form",
        actions=[
            {
                "action_type": "input_text",
                "xpath": f"//input[@id='{word}']",
                "text": word,
                "intention": f"type {word}",
                "reasoning": f"because {word}",
            },
            {
                "action_type": "select_option",
                "xpath": "//select",
                "option": f"x {word} y",
                "intention": word,
            },
            {"action_type": "goto_url", "text": f"https://x.test/?q={word}"},
        ],
        loop_value=None,
    )
    run.block("next", actions=[{"action_type": "click", "xpath": "//a", "intention": f"{word}!"}])
    events = run.finish()
    events[-2]["task"]["navigation_goal"] = f"goal {word}"
    events[-2]["task"]["url"] = f"https://x.test/{word}/"
    return events


@pytest.mark.parametrize("secret", CREDENTIALS, ids=["1-char", "4-char", "40-char", "object"])
def test_no_text_field_leaks_a_credential_of_any_length(
    pg_sessions: sessionmaker[Session], secret: Any
) -> None:
    store = open_store("memory://")
    events = everywhere_run("wr_every", secret)
    generate_now(pg_sessions, store, ingest(pg_sessions, events))
    with pg_sessions() as session:
        rows = []
        for table in ("workflow_runs", "workflow_run_blocks", "tasks", "actions", "dead_letters"):
            rows += session.scalars(text(f'SELECT row_to_json(t)::text FROM "{table}" t')).all()
        shas = session.scalars(select(m.ScriptFile.sha256)).all()
    blobs = [store.get(sha).decode() for sha in shas]

    for value in texts_of(secret):
        leaks = [row for row in rows if _holds(row, value)]
        assert not leaks, leaks
        assert not [b for b in blobs if _holds(b, value)]
    assert all(REDACTED not in b for b in blobs)


def _holds(data: str, value: str) -> bool:
    """`value` occurs in `data` (JSON) as a field or inside text; a value shorter than 4
    characters only as a whole field: inside other text it is not secret (every text holds
    single characters; worker/secrets/seals.py MIN_INSIDE_CHARS)."""
    if len(value) >= 4:
        return value in data
    return f'"{value}"' in data


@pytest.mark.parametrize("secret", CREDENTIALS, ids=["1-char", "4-char", "40-char", "object"])
def test_a_replays_emitted_events_hold_no_credential_of_any_length(secret: Any) -> None:
    events = everywhere_run("wr_emit", secret)
    out = json.dumps([redacted(e, {"cred": secret}) for e in events[1:]])

    for value in texts_of(secret):
        assert not _holds(out, value), value
    assert '"label": "form"' in out  # identifiers are kept
